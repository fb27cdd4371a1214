import type { ZarrArray } from "@zarrs-cache/core";

/** At most this many bins along each of the two dimensions a heatmap shows. */
const MAX_BINS = 64;

/**
 * Reads and hits over an array's key grid, folded onto its last two dimensions (leading
 * dimensions summed) and binned to at most 64 × 64 cells, so that memory stays small.
 */
export class GridHeatmap {
  /** Key-grid cells per bin along the two shown dimensions. */
  readonly binSize: [number, number];
  readonly bins: [number, number];
  readonly shape: readonly number[];
  readonly reads: Uint32Array;
  readonly hits: Uint32Array;

  constructor(array: ZarrArray) {
    const shape = array.keyGrid.shape;
    this.shape = shape;
    const rows = shape.length >= 2 ? shape[shape.length - 2]! : 1;
    const cols = shape.length >= 1 ? shape[shape.length - 1]! : 1;
    this.binSize = [Math.max(1, Math.ceil(rows / MAX_BINS)), Math.max(1, Math.ceil(cols / MAX_BINS))];
    this.bins = [Math.max(1, Math.ceil(rows / this.binSize[0])), Math.max(1, Math.ceil(cols / this.binSize[1]))];
    this.reads = new Uint32Array(this.bins[0] * this.bins[1]);
    this.hits = new Uint32Array(this.bins[0] * this.bins[1]);
  }

  /** The bin of key-grid coordinates. */
  cellOf(coords: readonly number[]): number {
    const n = coords.length;
    const row = n >= 2 ? Math.floor(coords[n - 2]! / this.binSize[0]) : 0;
    const col = n >= 1 ? Math.floor(coords[n - 1]! / this.binSize[1]) : 0;
    return row * this.bins[1] + col;
  }
}
