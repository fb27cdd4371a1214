import { invalid, show } from "./errors.js";
import { ZarrArray } from "./array-model.js";

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

  constructor(arrays: Iterable<ZarrArray> = []) {
    for (const array of arrays) this.add(array);
  }

  /** Adds an array, replacing a previous one at the same path (its metadata changed). */
  add(array: ZarrArray): this {
    if (!(array instanceof ZarrArray)) throw invalid(`ArrayLocator.add: expected a ZarrArray (from zarrArray()), got ${show(array)}`);
    this.byPath.set(array.path, array);
    return this;
  }

  /** Forgets the array at `path`; true if there was one. */
  delete(path: string): boolean {
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
    return this.walk(path, (array) => array);
  }

  /** The array and key-grid coordinates of a chunk (or shard) key; undefined for any other path. */
  locate(path: string): KeyPlacement | undefined {
    return this.walk(path, (array, relative) => {
      const coords = array.parseRelativeKey(relative);
      return coords === undefined ? undefined : { array, coords };
    });
  }

  /** Tries `path`'s ancestors from the deepest up; the first known array decides. */
  private walk<T>(path: string, found: (array: ZarrArray, relative: string) => T | undefined): T | undefined {
    if (typeof path !== "string" || !path.startsWith("/") || this.byPath.size === 0) return undefined;
    for (let slash = path.lastIndexOf("/"); slash >= 0; slash = path.lastIndexOf("/", slash - 1)) {
      const array = this.byPath.get(slash === 0 ? "/" : path.slice(0, slash));
      if (array) return found(array, path.slice(slash + 1));
      if (slash === 0) break;
    }
    return undefined;
  }
}
