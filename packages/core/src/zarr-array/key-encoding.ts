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
 * One pass over the characters, no intermediate strings: metrics and warming call this per event.
 */
export function decodeChunkKey(encoding: ChunkKeyEncoding, rank: number, key: string): number[] | undefined {
  const sep = encoding.separator.charCodeAt(0);
  let i = 0;
  if (encoding.name === "default") {
    if (rank === 0) return key === "c" ? [] : undefined;
    if (key.charCodeAt(0) !== C || key.charCodeAt(1) !== sep) return undefined;
    i = 2;
  } else if (rank === 0) {
    return key === "0" ? [] : undefined;
  }
  const len = key.length;
  const coords = new Array<number>(rank);
  for (let d = 0; d < rank; d++) {
    if (d > 0) {
      if (key.charCodeAt(i) !== sep) return undefined;
      i++;
    }
    const begin = i;
    let n = 0;
    for (let c = key.charCodeAt(i); c >= ZERO && c <= NINE; c = key.charCodeAt(++i)) n = n * 10 + (c - ZERO);
    const digits = i - begin;
    // "0" or digits without a leading zero, as `Array.prototype.join` writes a non-negative integer.
    if (digits === 0 || (digits > 1 && key.charCodeAt(begin) === ZERO) || !Number.isSafeInteger(n)) return undefined;
    coords[d] = n;
  }
  return i === len ? coords : undefined;
}

const C = 99; // "c"
const ZERO = 48;
const NINE = 57;
