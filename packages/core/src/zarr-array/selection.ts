import { invalid, isRecord, show } from "./errors.js";
import type { ChunkGrid, GridRegion } from "./grid.js";

/** A slice as zarrita's `zarr.slice(start, stop, step)` builds it; null means "from the edge" / step 1. */
export interface SliceSelection {
  readonly start?: number | null;
  readonly stop?: number | null;
  readonly step?: number | null;
}

/** One dimension of a selection: an index (negative counts from the end), null for all, or a slice. */
export type DimensionSelection = number | null | SliceSelection;

/** zarrita's selection: null for the whole array, or one entry per dimension (missing trailing ones mean all). */
export type ArraySelection = null | readonly DimensionSelection[];

/**
 * The grid cells zarrita reads for `selection`, as a region of `grid` (the grid of the chunks
 * zarrita decodes: inner chunks for a sharded array). Follows zarrita's indexer: an index is
 * truncated and may count from the end; a slice is clamped like Python's; a slice with step > 1
 * still covers every chunk between its start and stop, because zarrita reads all of them.
 * An empty slice selects no chunk. Throws INVALID_ARGUMENT for an index out of bounds, too many
 * dimensions, a step below 1, or a value that is not a number.
 */
export function selectionRegion(grid: ChunkGrid, selection: ArraySelection): GridRegion {
  const rank = grid.rank;
  if (selection !== null && !Array.isArray(selection)) {
    throw invalid(`selection must be null or an array of per-dimension selections, got ${show(selection)}`);
  }
  const dims = selection ?? [];
  if (dims.length > rank) {
    throw invalid(`selection has ${dims.length} dimensions, the array has ${rank}`);
  }
  const start: number[] = [];
  const stop: number[] = [];
  for (let d = 0; d < rank; d++) {
    const length = grid.arrayShape[d]!;
    const chunk = grid.cellShape[d]!;
    const [first, end] = elementRange(dims[d] ?? null, length, d);
    if (first >= end) return { start: grid.shape.map(() => 0), stop: grid.shape.map(() => 0) };
    start.push(Math.floor(first / chunk));
    stop.push(Math.ceil(end / chunk));
  }
  return { start, stop };
}

/** The element range [first, end) zarrita visits along one dimension; first >= end when empty. */
function elementRange(sel: DimensionSelection, length: number, d: number): [number, number] {
  if (typeof sel === "number") {
    if (!Number.isFinite(sel)) throw invalid(`selection: index ${show(sel)} of dimension ${d} is not a finite number`);
    let i = Math.trunc(sel);
    if (i < 0) i += length;
    if (i < 0 || i >= length) {
      throw invalid(`selection: index ${sel} is out of bounds for dimension ${d} of length ${length}`);
    }
    return [i, i + 1];
  }
  if (sel === null) return [0, length];
  if (!isRecord(sel)) throw invalid(`selection: dimension ${d} must be a number, null or a slice, got ${show(sel)}`);
  const step = sliceField(sel.step, "step", d) ?? 1;
  if (step < 1) throw invalid(`selection: slice step ${step} of dimension ${d} is not supported (zarrita reads steps >= 1 only)`);
  const start = clampBound(sliceField(sel.start, "start", d), length, 0);
  const stop = clampBound(sliceField(sel.stop, "stop", d), length, length);
  return [start, stop];
}

function sliceField(value: unknown, name: string, d: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw invalid(`selection: slice "${name}" of dimension ${d} must be an integer or null, got ${show(value)}`);
  }
  return value;
}

/** Python's slice bound for a positive step: negative counts from the end, then clamped to [0, length]. */
function clampBound(bound: number | null, length: number, fallback: number): number {
  if (bound === null) return fallback;
  if (bound < 0) return Math.max(bound + length, 0);
  return Math.min(bound, length);
}
