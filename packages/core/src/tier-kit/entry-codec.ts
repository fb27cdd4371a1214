/**
 * The one stored-entry format with expiry for tiers over a byte store (Redis, Keyv): a small
 * header carrying the absolute expiry, then the value's bytes untouched. So a single GET answers
 * value and expiry (a backfill keeps the remaining TTL), and data that is not ours reads as
 * "foreign" rather than as a value. Two layouts of the same header, each kept byte for byte
 * because stores already hold entries in it (and Redis scripts read the compact one):
 *
 * compact (Redis):            aligned (Keyv; base64-friendly):
 *   0     0x7a ("z")            0-3   "ZCK" + layout version 0x01
 *   1     0 no expiry, 1 expiry 4-5   two zero bytes
 *   2-9   expiresAt (if 1)      6-13  expiresAt, 0 = none
 *   rest  the value             14-17 value length, uint32 LE
 *                               18-   the value
 *
 * expiresAt is ms since the epoch as a float64 little-endian. The aligned header is 18 bytes, a
 * multiple of 3, so base64(header) + base64(value) is exactly base64(header + value): a text
 * store never needs the value copied into a joined buffer first.
 */
export type EntryLayout = "compact" | "aligned";

export interface StoredEntry {
  value: Uint8Array;
  expiresAt: number | undefined;
}

const COMPACT_MARKER = 0x7a;
const ALIGNED_MAGIC = [0x5a, 0x43, 0x4b, 0x01] as const;
/** Bytes of the aligned header (a multiple of 3, see above). */
export const ALIGNED_HEADER_BYTES = 18;
const MAX_ALIGNED_LENGTH = 0xffff_ffff;

/** Header bytes an entry of this layout and expiry starts with. */
export function entryHeaderBytes(layout: EntryLayout, expiresAt: number | undefined): number {
  if (layout === "aligned") return ALIGNED_HEADER_BYTES;
  return expiresAt === undefined ? 2 : 10;
}

/** Writes the header for a value of `byteLength` bytes at the start of `out`. */
export function writeEntryHeader(out: Uint8Array, layout: EntryLayout, byteLength: number, expiresAt: number | undefined): void {
  const view = new DataView(out.buffer, out.byteOffset, entryHeaderBytes(layout, expiresAt));
  if (layout === "compact") {
    out[0] = COMPACT_MARKER;
    out[1] = expiresAt === undefined ? 0 : 1;
    if (expiresAt !== undefined) view.setFloat64(2, expiresAt, true);
    return;
  }
  if (byteLength > MAX_ALIGNED_LENGTH) throw new RangeError(`a value of ${byteLength} bytes does not fit the entry format`);
  out.set(ALIGNED_MAGIC, 0);
  out[4] = 0;
  out[5] = 0;
  view.setFloat64(6, expiresAt ?? 0, true);
  view.setUint32(14, byteLength, true);
}

/**
 * Header + value in one new buffer (one copy: the stored bytes never alias the caller's).
 * `allocate` lets Node callers take a pooled `Buffer.allocUnsafe`.
 */
export function encodeEntry(
  value: Uint8Array,
  expiresAt: number | undefined,
  layout: EntryLayout,
  allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array {
  const header = entryHeaderBytes(layout, expiresAt);
  const out = allocate(header + value.byteLength);
  writeEntryHeader(out, layout, value.byteLength, expiresAt);
  out.set(value, header);
  return out;
}

/**
 * The entry in `stored`, or undefined when it is not one of this layout: foreign data, a
 * truncated or altered entry, another version. The value is a view of `stored` (no copy) of the
 * same class (a Buffer's view is a Buffer).
 */
export function decodeEntry(stored: Uint8Array, layout: EntryLayout): StoredEntry | undefined {
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  if (layout === "compact") {
    if (stored.byteLength < 2 || stored[0] !== COMPACT_MARKER) return undefined;
    if (stored[1] === 0) return { value: stored.subarray(2), expiresAt: undefined };
    if (stored[1] !== 1 || stored.byteLength < 10) return undefined;
    const expiresAt = view.getFloat64(2, true);
    return Number.isFinite(expiresAt) ? { value: stored.subarray(10), expiresAt } : undefined;
  }
  if (stored.byteLength < ALIGNED_HEADER_BYTES) return undefined;
  for (let i = 0; i < ALIGNED_MAGIC.length; i++) if (stored[i] !== ALIGNED_MAGIC[i]) return undefined;
  if (stored[4] !== 0 || stored[5] !== 0) return undefined;
  const expiresAt = view.getFloat64(6, true);
  const length = view.getUint32(14, true);
  if (length !== stored.byteLength - ALIGNED_HEADER_BYTES || !Number.isFinite(expiresAt) || expiresAt < 0) return undefined;
  return { value: stored.subarray(ALIGNED_HEADER_BYTES), expiresAt: expiresAt === 0 ? undefined : expiresAt };
}
