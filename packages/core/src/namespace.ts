/**
 * A namespace view of a TieredCache: keys become `zc1|<namespace>|<path>` (core's one key
 * encoding, see cache-key.ts), so two views, or a view and a zarrita dataset of another
 * namespace, can share tiers without meeting, and `invalidate`/`clear` touch only this namespace.
 */
import { CacheKeys } from "./cache-key.js";
import { ZarrsCacheError } from "./errors.js";
import type { LoadOptions, Loader, Ttl, WriteResult } from "./tiered-cache-options.js";
import type { TieredCache } from "./tiered-cache.js";
import type { CacheEntry, SetOptions } from "./types.js";
import type { KeyKind } from "./zarr-keys.js";
import { assertKey, describe } from "./validate.js";

const HIGH_SURROGATE_AT_END = /[\ud800-\udbff]$/;

/**
 * The cache seen through one namespace: every method takes a path inside the namespace. Counters,
 * events and `close()` stay the cache's (events carry full keys: `path(event.key)` maps them back).
 */
export class CacheNamespace {
  /** The keys of this namespace (`cacheKeys.prefix` starts every one of them). */
  readonly cacheKeys: CacheKeys;

  constructor(
    readonly cache: TieredCache,
    readonly name: string,
  ) {
    this.cacheKeys = new CacheKeys(name);
  }

  /** The cache key of `path` in this namespace. */
  key(path: string): string {
    assertKey(path);
    return this.cacheKeys.whole(path);
  }

  /** The path of a cache key of this namespace; undefined for a key of another namespace or a range key. */
  path(key: string): string | undefined {
    const parsed = this.cacheKeys.parse(key);
    return parsed === undefined || parsed.range !== undefined ? undefined : parsed.path;
  }

  getOrLoad(path: string, loader: Loader, options?: LoadOptions): Promise<Uint8Array | undefined> {
    return this.keyed(path, (key) => this.cache.getOrLoad(key, loader, options));
  }

  load(path: string, loader: Loader, options?: LoadOptions): Promise<Uint8Array | undefined> {
    return this.keyed(path, (key) => this.cache.load(key, loader, options));
  }

  peek(path: string): Uint8Array | null | undefined {
    return this.cache.peek(this.key(path));
  }

  get(path: string): Promise<CacheEntry | undefined> {
    return this.keyed(path, (key) => this.cache.get(key));
  }

  set(path: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    return this.keyed(path, (key) => this.cache.set(key, value, options));
  }

  write(
    path: string,
    value: Uint8Array,
    writer: () => Promise<void> | void,
    options?: { kind?: KeyKind; ttl?: Ttl },
  ): Promise<WriteResult> {
    return this.keyed(path, (key) => this.cache.write(key, value, writer, options));
  }

  delete(path: string): Promise<boolean> {
    return this.keyed(path, (key) => this.cache.delete(key));
  }

  has(path: string): Promise<boolean> {
    return this.keyed(path, (key) => this.cache.has(key));
  }

  hasEntry(path: string): Promise<boolean> {
    return this.keyed(path, (key) => this.cache.hasEntry(key));
  }

  /**
   * Removes every path of this namespace starting with `prefix` (all of them when omitted) from
   * every tier; other namespaces are untouched. Resolves to the most entries removed from a tier.
   */
  invalidate(prefix = ""): Promise<number> {
    try {
      return this.cache.invalidate(this.prefixKey(prefix));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes every key of this namespace (and only those) from every tier. */
  async clear(): Promise<void> {
    await this.invalidate("");
  }

  /** The paths of this namespace the tiers hold (whole values; byte-range keys are left out). */
  async *paths(prefix = ""): AsyncIterable<string> {
    for await (const key of this.cache.keys(this.prefixKey(prefix))) {
      const path = this.path(key);
      if (path !== undefined) yield path;
    }
  }

  /** Every cache key of paths starting with `prefix`, and no other key, starts with this. */
  private prefixKey(prefix: string): string {
    if (typeof prefix !== "string") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `invalidate(prefix): prefix must be a string, got ${describe(prefix)}`);
    }
    if (prefix === "") return this.cacheKeys.prefix;
    // Half a surrogate pair is escaped alone but kept whole inside a path: it would match nothing.
    if (HIGH_SURROGATE_AT_END.test(prefix)) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", "invalidate(prefix): prefix ends inside a surrogate pair (half a character)");
    }
    return this.cacheKeys.whole(prefix);
  }

  private keyed<T>(path: string, run: (key: string) => Promise<T>): Promise<T> {
    let key: string;
    try {
      key = this.key(path);
    } catch (error) {
      return Promise.reject(error);
    }
    return run(key);
  }
}

/**
 * A view of `cache` whose keys live in namespace `name`: `namespace(cache, "users").getOrLoad("42", load)`
 * caches under `zc1|users|42`. A zarrita dataset opened with `withCache(store, cache, { namespace: name })`
 * uses the same keys, so a view of its namespace sees (and can invalidate) its paths.
 */
export function namespace(cache: TieredCache, name: string): CacheNamespace {
  if (cache instanceof CacheNamespace) {
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `namespace(cache, name): cache is already the namespace view "${cache.name}"; name the nested namespace in one string instead, e.g. namespace(cache, "${cache.name}/${typeof name === "string" ? name : "child"}")`,
    );
  }
  const c = cache as Partial<TieredCache> | null;
  if (typeof c?.getOrLoad !== "function" || typeof c.invalidate !== "function" || typeof c.hasEntry !== "function") {
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `namespace(cache, name): cache must be a cache built with createCache()...build(), got ${describe(cache)}`,
    );
  }
  if (typeof name !== "string" || name === "") {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `namespace(cache, name): name must be a non-empty string, got ${describe(name)}`);
  }
  return new CacheNamespace(cache, name);
}
