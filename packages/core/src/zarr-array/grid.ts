import { invalid, isIndex, show } from "./errors.js";

/** A box of grid coordinates: `start` inclusive, `stop` exclusive, per dimension. */
export interface GridRegion {
  readonly start: readonly number[];
  readonly stop: readonly number[];
}

/** Which cells `neighbours` returns. */
export interface NeighbourOptions {
  /** How far to reach along each chosen dimension (Chebyshev distance); default 1. */
  distance?: number;
  /** The dimensions to move along (negative counts from the end); default the last two. */
  dims?: readonly number[];
}

/**
 * A regular grid of cells (chunks or shards) over an array: `shape[d] = ceil(arrayShape[d] / cellShape[d])`.
 * A 0-d array has one cell, with coordinates `[]`. Iteration is in C order (last dimension fastest).
 */
export class ChunkGrid {
  /** Cells per dimension. */
  readonly shape: readonly number[];
  /** The number of cells (1 for a 0-d array, 0 when a dimension is empty). */
  readonly size: number;

  constructor(
    /** The array's shape in elements. */
    readonly arrayShape: readonly number[],
    /** One cell's shape in elements. */
    readonly cellShape: readonly number[],
  ) {
    if (arrayShape.length !== cellShape.length) {
      throw invalid(`grid: array shape ${show(arrayShape)} and cell shape ${show(cellShape)} differ in rank`);
    }
    if (!arrayShape.every(isIndex) || !cellShape.every((n) => isIndex(n) && n > 0)) {
      throw invalid(`grid: array shape ${show(arrayShape)} must be non-negative integers and cell shape ${show(cellShape)} positive ones`);
    }
    this.shape = arrayShape.map((n, d) => Math.ceil(n / cellShape[d]!));
    this.size = this.shape.reduce((a, b) => a * b, 1);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The whole grid as a region. */
  get region(): GridRegion {
    return { start: this.shape.map(() => 0), stop: this.shape };
  }

  /** True when `coords` are integers of the grid's rank inside the grid. */
  contains(coords: readonly number[]): boolean {
    if (coords.length !== this.shape.length) return false;
    for (let d = 0; d < coords.length; d++) {
      const c = coords[d]!;
      if (!Number.isInteger(c) || c < 0 || c >= this.shape[d]!) return false;
    }
    return true;
  }

  /** The part of `region` inside the grid (empty when they do not meet). */
  clip(region: GridRegion): GridRegion {
    this.checkRegion(region);
    const start = region.start.map((s, d) => Math.min(Math.max(s, 0), this.shape[d]!));
    const stop = region.stop.map((s, d) => Math.max(Math.min(s, this.shape[d]!), start[d]!));
    return { start, stop };
  }

  /** The number of cells in `region` (after clipping to the grid). */
  count(region: GridRegion = this.region): number {
    const { start, stop } = this.clip(region);
    return start.reduce((n, s, d) => n * (stop[d]! - s), 1);
  }

  /** The cells of `region` (clipped to the grid) in C order; the whole grid by default. */
  *cells(region: GridRegion = this.region): Generator<number[]> {
    const { start, stop } = this.clip(region);
    const rank = start.length;
    if (start.some((s, d) => s >= stop[d]!)) return;
    const coords = [...start];
    while (true) {
      yield [...coords];
      let d = rank - 1;
      while (d >= 0) {
        coords[d]!++;
        if (coords[d]! < stop[d]!) break;
        coords[d] = start[d]!;
        d--;
      }
      if (d < 0) return;
    }
  }

  /** `coords + delta`, or undefined when that falls outside the grid. */
  shift(coords: readonly number[], delta: readonly number[]): number[] | undefined {
    if (delta.length !== this.rank) throw invalid(`grid: delta ${show(delta)} must have ${this.rank} dimensions`);
    const moved = coords.map((c, d) => c + delta[d]!);
    return this.contains(moved) ? moved : undefined;
  }

  /**
   * The cells within `distance` of `coords` along `dims` (other dimensions fixed), clipped to the
   * grid, `coords` itself excluded. Nearest first: ring by ring, C order within a ring.
   */
  neighbours(coords: readonly number[], options: NeighbourOptions = {}): number[][] {
    this.assertCell(coords);
    const distance = options.distance ?? 1;
    if (!isIndex(distance)) throw invalid(`neighbours: "distance" must be a non-negative integer, got ${show(distance)}`);
    const dims = this.dimensions(options.dims);
    const start = [...coords];
    const stop = coords.map((c) => c + 1);
    for (const d of dims) {
      start[d] = coords[d]! - distance;
      stop[d] = coords[d]! + distance + 1;
    }
    const rings: number[][][] = Array.from({ length: distance }, () => []);
    for (const cell of this.cells({ start, stop })) {
      let ring = 0;
      for (const d of dims) ring = Math.max(ring, Math.abs(cell[d]! - coords[d]!));
      if (ring > 0) rings[ring - 1]!.push(cell);
    }
    return rings.flat();
  }

  /** The cell's position in C order (0 … size-1). */
  linearIndex(coords: readonly number[]): number {
    this.assertCell(coords);
    let index = 0;
    for (let d = 0; d < coords.length; d++) index = index * this.shape[d]! + coords[d]!;
    return index;
  }

  /** The inverse of `linearIndex`. */
  coordsAt(index: number): number[] {
    if (!isIndex(index) || index >= this.size) {
      throw invalid(`grid: cell index ${show(index)} is outside 0…${this.size - 1}`);
    }
    const coords = new Array<number>(this.rank);
    for (let d = this.rank - 1; d >= 0; d--) {
      coords[d] = index % this.shape[d]!;
      index = Math.floor(index / this.shape[d]!);
    }
    return coords;
  }

  /** Throws INVALID_ARGUMENT unless `coords` is a cell of this grid. */
  assertCell(coords: readonly number[]): void {
    if (!Array.isArray(coords) || !this.contains(coords)) {
      throw invalid(`grid coordinates ${show(coords)} are outside the grid ${show(this.shape)}`);
    }
  }

  private checkRegion(region: GridRegion): void {
    const ok = (v: unknown) => Array.isArray(v) && v.length === this.rank && v.every((n) => Number.isInteger(n));
    if (!region || !ok(region.start) || !ok(region.stop)) {
      throw invalid(`grid region must have integer "start" and "stop" of ${this.rank} dimensions, got ${show(region)}`);
    }
  }

  private dimensions(dims: readonly number[] | undefined): number[] {
    if (dims === undefined) return this.shape.map((_, d) => d).slice(-2);
    if (!Array.isArray(dims)) throw invalid(`neighbours: "dims" must be an array of dimensions, got ${show(dims)}`);
    const resolved = dims.map((d) => {
      const r = Number.isInteger(d) && d < 0 ? d + this.rank : d;
      if (!Number.isInteger(r) || r < 0 || r >= this.rank) {
        throw invalid(`neighbours: dimension ${show(d)} is outside an array of ${this.rank} dimensions`);
      }
      return r;
    });
    if (new Set(resolved).size !== resolved.length) throw invalid(`neighbours: "dims" ${show(dims)} names a dimension twice`);
    return resolved;
  }
}
