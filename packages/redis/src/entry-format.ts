import { decodeEntry as decodeStored, encodeEntry as encodeStored, entryHeaderBytes, type StoredEntry } from "@zarrs-cache/core";

/**
 * How a value is stored in Redis: core's entry codec in its "compact" layout (a 2-byte header,
 * 10 bytes with an absolute expiry, then the raw bytes; the Lua scripts in tombstones.ts read
 * that header). Why a header rather than asking Redis for PTTL: a plain GET (or MGET for many
 * keys) then answers value and expiry in one command. GET+PTTL pairs or a Lua script returning
 * both ran at 0.3–0.45× the speed of GET/MGET here (see the README), and TTLs must survive backfill.
 */
export { wholeMs } from "@zarrs-cache/core";

/**
 * Longest TTL sent to Redis as PX, in ms (~31,700 years). Redis refuses PX values that are not
 * integers or that overflow its clock; a longer TTL is kept only in the header (see redis-tier).
 */
export const MAX_PX = 1e15;

export type DecodedEntry = StoredEntry;

/** The header of an entry that has an expiry: what DELETE_IF_HEADER compares. */
export function expiryHeader(stored: Buffer): Buffer {
  return stored.subarray(0, entryHeaderBytes("compact", 0));
}

/** One copy: the stored bytes never alias the caller's buffer. */
export function encodeEntry(value: Uint8Array, expiresAt: number | undefined): Buffer {
  return encodeStored(value, expiresAt, "compact", Buffer.allocUnsafe) as Buffer;
}

/** The entry (its value a view of `stored`), or null when the bytes were not written by this tier (foreign or corrupt). */
export function decodeEntry(stored: Buffer): DecodedEntry | null {
  return decodeStored(stored, "compact") ?? null;
}
