import type { ChunkKeyEncoding } from "./metadata.js";

/**
 * The key of a grid cell relative to its array, exactly as zarrita encodes it:
 * default `c/1/2` (`c.1.2`; `c` for 0-d), v2 `1.2` (`1/2`; `0` for 0-d).
 */
export function encodeChunkKey(encoding: ChunkKeyEncoding, coords: readonly number[]): string {
  if (encoding.name === "default") return coords.length === 0 ? "c" : `c${encoding.separator}${coords.join(encoding.separator)}`;
  return coords.length === 0 ? "0" : coords.join(encoding.separator);
}

/**
 * The inverse of `encodeChunkKey` for an array of `rank` dimensions: the coordinates, or undefined
 * when `key` is not a key zarrita would write (wrong shape, rank, or a number not in canonical form).
 */
export function decodeChunkKey(encoding: ChunkKeyEncoding, rank: number, key: string): number[] | undefined {
  const sep = encoding.separator;
  let rest = key;
  if (encoding.name === "default") {
    if (rank === 0) return key === "c" ? [] : undefined;
    if (!key.startsWith(`c${sep}`)) return undefined;
    rest = key.slice(2);
  } else if (rank === 0) {
    return key === "0" ? [] : undefined;
  }
  const parts = rest.split(sep);
  if (parts.length !== rank) return undefined;
  const coords = new Array<number>(rank);
  for (let d = 0; d < rank; d++) {
    const n = canonicalInteger(parts[d]!);
    if (n === undefined) return undefined;
    coords[d] = n;
  }
  return coords;
}

/** "0" or digits without a leading zero, as `Array.prototype.join` writes a non-negative integer. */
function canonicalInteger(text: string): number | undefined {
  const len = text.length;
  if (len === 0 || len > 16 || (len > 1 && text.charCodeAt(0) === 48)) return undefined;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
