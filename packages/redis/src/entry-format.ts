/**
 * How a value is stored in Redis: a small binary header, then the raw bytes.
 *
 *   byte 0      0x7a ("z"), a format marker
 *   byte 1      0 = no expiry, 1 = an expiry follows
 *   bytes 2-9   (only when byte 1 is 1) absolute expiry, ms since the epoch, float64 little-endian
 *   rest        the value, untouched
 *
 * Why a header rather than asking Redis for PTTL: a plain GET (or MGET for many keys) then
 * answers value and expiry in one command. GET+PTTL pairs or a Lua script returning both ran at
 * 0.3–0.45× the speed of GET/MGET here (see the README), and TTLs must survive backfill.
 */
const MARKER = 0x7a;
const NO_EXPIRY = 0;
const HAS_EXPIRY = 1;
const SHORT_HEADER = 2;
const LONG_HEADER = 10;

/**
 * Longest TTL sent to Redis as PX, in ms (~31,700 years). Redis refuses PX values that are not
 * integers or that overflow its clock; a longer TTL is kept only in the header (see redis-tier).
 */
export const MAX_PX = 1e15;

/** A TTL as Redis takes it: whole milliseconds, at least 1 (rounded up, never shortened). */
export function wholeMs(ttl: number): number {
  return Math.max(1, Math.ceil(ttl));
}

/** The header of an entry that has an expiry: what DELETE_IF_HEADER compares. */
export function expiryHeader(stored: Buffer): Buffer {
  return stored.subarray(0, LONG_HEADER);
}

export function encodeEntry(value: Uint8Array, expiresAt: number | undefined): Buffer {
  const header = expiresAt === undefined ? SHORT_HEADER : LONG_HEADER;
  // One copy: the stored bytes never alias the caller's buffer.
  const out = Buffer.allocUnsafe(header + value.byteLength);
  out[0] = MARKER;
  if (expiresAt === undefined) out[1] = NO_EXPIRY;
  else {
    out[1] = HAS_EXPIRY;
    out.writeDoubleLE(expiresAt, 2);
  }
  out.set(value, header);
  return out;
}

export interface DecodedEntry {
  value: Uint8Array;
  expiresAt: number | undefined;
}

/** The entry, or null when the bytes were not written by this tier (foreign or corrupt). */
export function decodeEntry(stored: Buffer): DecodedEntry | null {
  if (stored.length < SHORT_HEADER || stored[0] !== MARKER) return null;
  const flag = stored[1];
  if (flag === NO_EXPIRY) return { value: stored.subarray(SHORT_HEADER), expiresAt: undefined };
  if (flag === HAS_EXPIRY && stored.length >= LONG_HEADER) {
    const expiresAt = stored.readDoubleLE(2);
    if (!Number.isFinite(expiresAt)) return null;
    return { value: stored.subarray(LONG_HEADER), expiresAt };
  }
  return null;
}
