import { assertKnownOptions, type ZarrArray } from "@zarrs-cache/core";
import { assertOptionsObject, badOption, nonNegativeNumber } from "./errors.js";
import type { ChunkRead, WarmingStrategy } from "./types.js";

/** How long a chunk's neighbours count as asked for (they may have been evicted since). */
const REFRESH_MS = 10_000;
const MAX_REMEMBERED = 65_536;

export interface NeighborOptions {
  /** How many chunks out along each chosen dimension (default 1: the 8 tiles around a 2-d tile). */
  distance?: number;
  /** The dimensions a viewer moves along; negative counts from the end (default the last two). */
  dims?: readonly number[];
  /** Priority among waiting prefetches (default 1). */
  priority?: number;
}

/**
 * On a demand read of a chunk, the chunks within `distance` of it along `dims`, nearest first,
 * clipped to the array's grid (never a key outside it). For a sharded array these are inner
 * chunks, prefetched as the exact byte ranges zarrita reads.
 */
export function neighbor(options: NeighborOptions = {}): WarmingStrategy {
  assertOptionsObject("neighbor()", options);
  assertKnownOptions("neighbor()", options, ["distance", "dims", "priority"]);
  const distance = nonNegativeNumber("neighbor()", "distance", options.distance, 1);
  if (!Number.isInteger(distance)) throw badOption("neighbor()", "distance", "must be a non-negative integer", distance);
  const dims = options.dims;
  if (dims !== undefined && (!Array.isArray(dims) || dims.length === 0 || !dims.every((d) => Number.isInteger(d)))) {
    throw badOption("neighbor()", "dims", "must be a non-empty array of dimension numbers", dims);
  }
  const priority = options.priority ?? 1;
  if (!Number.isFinite(priority)) throw badOption("neighbor()", "priority", "must be a finite number", priority);
  const neighbourOptions = dims === undefined ? { distance } : { distance, dims };
  // A chunk read again soon (a viewer redrawing, a memory hit) has had its neighbours asked for:
  // skipping it keeps the plugin's cost on the memory-hit path to a Map lookup.
  const expanded = new WeakMap<ZarrArray, Map<number, number>>();
  return {
    name: "neighbor",
    priority,
    onChunkRead(read: ChunkRead) {
      const grid = read.array.chunkGrid;
      // An array with fewer dimensions than `dims` names cannot be moved over that way.
      if (dims !== undefined && dims.some((d) => (d < 0 ? d + grid.rank : d) >= grid.rank || d < -grid.rank)) return undefined;
      let seen = expanded.get(read.array);
      if (seen === undefined) expanded.set(read.array, (seen = new Map()));
      const cell = grid.linearIndex(read.chunk);
      const now = Date.now();
      const last = seen.get(cell);
      if (last !== undefined && now - last < REFRESH_MS) return undefined;
      if (seen.size >= MAX_REMEMBERED) seen.clear();
      seen.set(cell, now);
      return grid.neighbours(read.chunk, neighbourOptions);
    },
  };
}
