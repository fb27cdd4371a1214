import { invalid, show } from "./errors.js";
import { ZarrArray } from "./array-model.js";

const SLASH = 47;

/** A store key placed on an array's grid. */
export interface KeyPlacement {
  readonly array: ZarrArray;
  /** The key's coordinates on `array.keyGrid` (shard coordinates for a sharded array). */
  readonly coords: number[];
}

/**
 * Places store keys on the grids of known arrays, so that warming and metrics can tell which
 * array a key belongs to and where. Arrays are found by path: the deepest known array whose
 * path is an ancestor of the key owns it (zarr arrays do not nest).
 */
export class ArrayLocator implements Iterable<ZarrArray> {
  private readonly byPath = new Map<string, ZarrArray>();
  private depthCache: number[] | undefined;
  private relativeStart = 0;

  constructor(arrays: Iterable<ZarrArray> = []) {
    for (const array of arrays) this.add(array);
  }

  /** Adds an array, replacing a previous one at the same path (its metadata changed). */
  add(array: ZarrArray): this {
    if (!(array instanceof ZarrArray)) throw invalid(`ArrayLocator.add: expected a ZarrArray (from zarrArray()), got ${show(array)}`);
    this.byPath.set(array.path, array);
    this.depthCache = undefined;
    return this;
  }

  /** Forgets the array at `path`; true if there was one. */
  delete(path: string): boolean {
    this.depthCache = undefined;
    return this.byPath.delete(path);
  }

  /** The array at exactly `path`. */
  get(path: string): ZarrArray | undefined {
    return this.byPath.get(path);
  }

  get size(): number {
    return this.byPath.size;
  }

  [Symbol.iterator](): Iterator<ZarrArray> {
    return this.byPath.values();
  }

  /** The array a store path lies under (its metadata, chunks or anything else in its folder), if known. */
  owner(path: string): ZarrArray | undefined {
    return this.find(path);
  }

  /** The array and key-grid coordinates of a chunk (or shard) key; undefined for any other path. */
  locate(path: string): KeyPlacement | undefined {
    const array = this.find(path);
    if (!array) return undefined;
    const coords = array.parseRelativeKey(path.slice(this.relativeStart));
    return coords === undefined ? undefined : { array, coords };
  }

  /**
   * The deepest known array that `path` lies under; sets `relativeStart` to where the rest of the
   * path begins. Only depths at which arrays are known are tried: usually one Map lookup.
   */
  private find(path: string): ZarrArray | undefined {
    if (typeof path !== "string" || path.charCodeAt(0) !== SLASH || this.byPath.size === 0) return undefined;
    const depths = this.depths();
    // slashes[d] ends the ancestor with d segments ("/" for d = 0, then "/a", "/a/b", …).
    const slashes: number[] = [0];
    for (let i = path.indexOf("/", 1); i !== -1 && slashes.length <= depths[0]!; i = path.indexOf("/", i + 1)) slashes.push(i);
    for (const depth of depths) {
      if (depth >= slashes.length) continue;
      const end = slashes[depth]!;
      const array = this.byPath.get(depth === 0 ? "/" : path.slice(0, end));
      if (array) {
        this.relativeStart = end + 1;
        return array;
      }
    }
    return undefined;
  }

  /** The depths (segment counts) of known arrays, deepest first: only those ancestors can match. */
  private depths(): number[] {
    if (this.depthCache) return this.depthCache;
    const depths = new Set<number>();
    for (const path of this.byPath.keys()) depths.add(path === "/" ? 0 : path.split("/").length - 1);
    this.depthCache = [...depths].sort((a, b) => b - a);
    return this.depthCache;
  }
}
