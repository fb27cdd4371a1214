import { CACHE_KEY_FORMAT, CacheKeys, type KeyRange, parseCacheKey } from "./cache-key.js";
import { ZarrsCacheError } from "./errors.js";
import { ArrayLocator, type ZarrArray, zarrArray } from "./zarr-array/index.js";

/** A cache key taken apart: its dataset (namespace), store path, range, and array when known. */
export interface KeyPlace {
  readonly namespace: string;
  /** Builds the keys of this namespace. */
  readonly keys: CacheKeys;
  readonly path: string;
  readonly range?: KeyRange;
  /** The array the path lies under, once its metadata was seen (see `DatasetArrays.learn`). */
  readonly array?: ZarrArray;
  /** For a chunk (or shard) key: its coordinates on `array.keyGrid`. */
  readonly coords?: number[];
}

interface Dataset {
  readonly keys: CacheKeys;
  readonly locator: ArrayLocator;
  /** Arrays whose metadata did not parse: warming leaves them alone. */
  readonly disabled: Set<string>;
}

const METADATA_FILES = ["zarr.json", ".zarray"];
const KEY_START = `${CACHE_KEY_FORMAT}|`;

/**
 * The arrays behind cache keys, per dataset: a key's namespace (the zarrita adapter's prefix)
 * picks the dataset, and an ArrayLocator built from metadata read through the cache places the
 * key on its array's grid. Arrays are learnt from metadata reads (`learn`) or asked for (`array`).
 */
export class DatasetArrays {
  private readonly datasets = new Map<string, Dataset>();
  private readonly learning = new Map<string, Promise<ZarrArray | undefined>>();

  constructor(
    private readonly read: (key: string, signal?: AbortSignal) => Promise<Uint8Array | undefined>,
    private readonly onError: (key: string, error: unknown) => void,
  ) {}

  /** Where a cache key points, synchronously; undefined for a key the zarrita adapter never builds. */
  place(key: string): KeyPlace | undefined {
    if (typeof key !== "string" || !key.startsWith(KEY_START)) return undefined;
    const end = key.indexOf("|", KEY_START.length);
    if (end === -1) return undefined;
    const dataset = this.dataset(key.slice(0, end + 1), key);
    if (dataset === undefined) return undefined;
    let path: string;
    let range: KeyRange | undefined;
    if (key.indexOf("\u0000") === -1) path = key.slice(end + 1);
    else {
      const parsed = dataset.keys.parse(key);
      if (parsed === undefined) return undefined;
      ({ path, range } = parsed);
    }
    const placement = dataset.locator.locate(path);
    const base = { namespace: dataset.keys.namespace, keys: dataset.keys, path, ...(range && { range }) };
    if (placement !== undefined) return { ...base, array: placement.array, coords: placement.coords };
    const owner = dataset.locator.owner(path);
    return owner === undefined ? base : { ...base, array: owner };
  }

  /** True when `path` is an array's metadata document (`zarr.json`, `.zarray`). */
  static isMetadataPath(path: string): boolean {
    const slash = path.lastIndexOf("/");
    return METADATA_FILES.includes(path.slice(slash + 1));
  }

  /**
   * Learns the array whose metadata `key` holds (reading it through the cache). A group is
   * ignored; metadata that does not parse switches that array off and is reported as an error.
   */
  learn(key: string): Promise<ZarrArray | undefined> {
    const place = this.place(key);
    if (place === undefined || place.range !== undefined || !DatasetArrays.isMetadataPath(place.path)) return Promise.resolve(undefined);
    const running = this.learning.get(key);
    if (running !== undefined) return running;
    const done = this.parse(place, key).finally(() => this.learning.delete(key));
    this.learning.set(key, done);
    return done;
  }

  /**
   * The array at `arrayPath` of `namespace`, reading its `zarr.json` (or `.zarray`) through the
   * cache. Throws INVALID_ARGUMENT when there is no array there, and the model's error (UNSUPPORTED
   * for a non-regular grid) when its metadata cannot be placed on a grid.
   */
  async array(namespace: string, arrayPath: string, signal?: AbortSignal): Promise<ZarrArray> {
    const keys = new CacheKeys(namespace);
    const dataset = this.dataset(keys.prefix)!;
    const base = arrayPath === "/" ? "" : arrayPath.replace(/\/+$/, "");
    for (const file of METADATA_FILES) {
      const bytes = await this.read(keys.whole(`${base}/${file}`), signal);
      if (bytes === undefined) continue;
      const array = zarrArray(bytes, { path: arrayPath });
      dataset.locator.add(array);
      dataset.disabled.delete(array.path);
      return array;
    }
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `no array metadata (zarr.json or .zarray) at ${JSON.stringify(arrayPath)} in ${namespace}`,
    );
  }

  /** True when warming was switched off for the array at `path` (its metadata did not parse). */
  disabled(namespace: string, path: string): boolean {
    return this.datasets.get(new CacheKeys(namespace).prefix)?.disabled.has(path) ?? false;
  }

  private async parse(place: KeyPlace, key: string): Promise<ZarrArray | undefined> {
    const dataset = this.dataset(place.keys.prefix)!;
    const slash = place.path.lastIndexOf("/");
    const arrayPath = slash <= 0 ? "/" : place.path.slice(0, slash);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.read(key);
    } catch {
      return undefined; // the reader saw that failure itself
    }
    if (bytes === undefined) return undefined;
    try {
      const doc = JSON.parse(new TextDecoder().decode(bytes)) as { node_type?: unknown } | null;
      if (doc !== null && typeof doc === "object" && doc.node_type === "group") return undefined;
      const array = zarrArray(bytes, { path: arrayPath });
      dataset.locator.add(array);
      dataset.disabled.delete(array.path);
      return array;
    } catch (error) {
      dataset.locator.delete(arrayPath);
      dataset.disabled.add(arrayPath);
      this.onError(key, error);
      return undefined;
    }
  }

  private dataset(prefix: string, key?: string): Dataset | undefined {
    let dataset = this.datasets.get(prefix);
    if (dataset !== undefined) return dataset;
    const namespace = key === undefined ? undefined : parseCacheKey(key)?.namespace;
    const keys = namespace === undefined ? undefined : new CacheKeys(namespace);
    if (key !== undefined && keys?.prefix !== prefix) return undefined;
    dataset = { keys: keys ?? cacheKeysOfPrefix(prefix), locator: new ArrayLocator(), disabled: new Set() };
    this.datasets.set(prefix, dataset);
    return dataset;
  }
}

function cacheKeysOfPrefix(prefix: string): CacheKeys {
  const parsed = parseCacheKey(`${prefix}/`);
  if (parsed === undefined) throw new ZarrsCacheError("INVALID_ARGUMENT", `not a cache key prefix: ${JSON.stringify(prefix)}`);
  return new CacheKeys(parsed.namespace);
}
