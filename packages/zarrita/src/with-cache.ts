import type { AbsolutePath, AsyncReadable, GetOptions, RangeQuery } from "@zarrita/storage";
import { type KeyKind, type PrefetchLoader, type TieredCache, ZarrsCacheError, classifyKey } from "@zarrs-cache/core";
import { defineStoreExtension } from "zarrita";
import { StoreKeys, storeIdentity } from "./keys.js";
import { withOverrides } from "./with-overrides.js";

export interface WithCacheOptions {
  /**
   * Identifies the dataset inside shared tiers (disk, Redis). Default: the store's URL
   * (FetchStore). Required for stores without a URL.
   */
  namespace?: string;
  /**
   * Hand each caller its own copy of the bytes (default true), so a caller (or a codec) that
   * mutates what it got cannot corrupt later reads. `false` returns the cached buffer itself:
   * faster on memory hits, safe only if nothing mutates the result.
   */
  copy?: boolean;
  /** Decides whether a path is cached at all (default: everything). */
  shouldCache?: (path: string, kind: KeyKind) => boolean;
  /** Overrides the TTL class of a path (default: zarr key shapes, see classifyKey). */
  classify?: (path: string) => KeyKind;
}

export interface CacheExtensionOptions extends WithCacheOptions {
  cache: TieredCache;
}

type Writable = { set?: (key: AbsolutePath, value: Uint8Array) => unknown };

function copyOf(value: Uint8Array): Uint8Array {
  // Uint8Array#slice copies; a Buffer's slice would only be a view.
  return value.constructor === Uint8Array ? value.slice() : new Uint8Array(value);
}

function validate(cache: unknown, options: WithCacheOptions): void {
  const c = cache as Partial<TieredCache> | null;
  if (typeof c?.getOrLoad !== "function" || typeof c?.write !== "function") {
    throw new ZarrsCacheError("INVALID_CONFIG", "withCache(store, cache): cache must be built with createCache()...build()");
  }
  if (options.namespace !== undefined && (typeof options.namespace !== "string" || options.namespace === "")) {
    throw new ZarrsCacheError("INVALID_CONFIG", 'withCache(): option "namespace" must be a non-empty string');
  }
  for (const name of ["shouldCache", "classify"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new ZarrsCacheError("INVALID_CONFIG", `withCache(): option "${name}" must be a function`);
    }
  }
  if (options.copy !== undefined && typeof options.copy !== "boolean") {
    throw new ZarrsCacheError("INVALID_CONFIG", 'withCache(): option "copy" must be a boolean');
  }
}

/**
 * The caching store extension: `zarr.extendStore(store, (s) => cacheExtension(s, { cache }))`.
 * Overrides `get`, `getRange` (when the store has it) and `set` (when the store has it);
 * everything else is the wrapped store's own.
 */
export const cacheExtension = defineStoreExtension((inner: AsyncReadable, options: CacheExtensionOptions) => cachingOverrides(inner, options));

/** The methods both forms of the wrapper install over the store's own. */
function cachingOverrides(inner: AsyncReadable, options: CacheExtensionOptions) {
  const { cache, ...rest } = options ?? ({} as CacheExtensionOptions);
  validate(cache, rest);
  const namespace = rest.namespace ?? storeIdentity(inner);
  if (namespace === undefined) {
    throw new ZarrsCacheError("INVALID_CONFIG", 'withCache(): this store has no URL to identify it; pass options.namespace (e.g. "my-dataset")');
  }
  const keys = new StoreKeys(namespace);
  const copy = rest.copy ?? true;
  const classify = rest.classify ?? classifyKey;
  const shouldCache = rest.shouldCache;
  const innerGet = inner.get.bind(inner);
  const innerGetRange = inner.getRange?.bind(inner);
  const innerSet = (inner as Writable).set?.bind(inner);

  // A load may be shared by many callers: it takes the load's own signal (it fires once every
  // caller waiting for the load aborted), never one caller's.
  const load = (path: AbsolutePath, range: RangeQuery | undefined, signal: AbortSignal) =>
    range === undefined ? innerGet(path, { signal }) : innerGetRange!(path, range, { signal });

  registerOnce(cache, keys.prefix, (key, signal) => {
    const parsed = keys.parse(key);
    if (!parsed || (parsed.range && !innerGetRange)) return Promise.resolve(undefined);
    return load(parsed.path as AbsolutePath, parsed.range, signal);
  });

  const kindOf = (path: AbsolutePath, range: RangeQuery | undefined): KeyKind => (range === undefined ? classify(path) : "chunk");
  const cached = (path: AbsolutePath, range: RangeQuery | undefined) => shouldCache === undefined || shouldCache(path, kindOf(path, range));
  const handOut = (value: Uint8Array | undefined) => (value === undefined || !copy ? value : copyOf(value));

  // Everything below returns a promise and never throws synchronously (zarrita chains .then).
  const read = (key: string, path: AbsolutePath, range: RangeQuery | undefined, opts: GetOptions | undefined): Promise<Uint8Array | undefined> => {
    try {
      if (!cached(path, range)) return range === undefined ? innerGet(path, opts) : innerGetRange!(path, range, opts);
      const hit = cache.peek(key);
      if (hit !== undefined) return Promise.resolve(hit === null ? undefined : copy ? copyOf(hit) : hit);
      return loadAndHandOut(key, path, range, opts);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const loadAndHandOut = (key: string, path: AbsolutePath, range: RangeQuery | undefined, opts: GetOptions | undefined) => {
    const pending = cache.load(key, (signal) => load(path, range, signal), { kind: kindOf(path, range), signal: opts?.signal });
    return copy ? pending.then(handOut) : pending;
  };

  const prefix = keys.prefix;
  return {
    get(path: AbsolutePath, opts?: GetOptions): Promise<Uint8Array | undefined> {
      if (shouldCache !== undefined) return read(prefix + path, path, undefined, opts);
      // The hot path, kept flat: an L1 hit is answered with no await and no key classification.
      const key = prefix + path;
      try {
        const hit = cache.peek(key);
        if (hit !== undefined) return Promise.resolve(hit === null ? undefined : copy ? copyOf(hit) : hit);
        return loadAndHandOut(key, path, undefined, opts);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    ...(innerGetRange && {
      getRange(path: AbsolutePath, range: RangeQuery, opts?: GetOptions): Promise<Uint8Array | undefined> {
        return read(keys.range(path, range), path, range, opts);
      },
    }),
    ...(innerSet && {
      async set(path: AbsolutePath, value: Uint8Array): Promise<void> {
        const key = keys.whole(path);
        if (cached(path, undefined)) {
          // Store first; the cache changes only after the store accepted the write.
          await cache.write(key, value, async () => {
            await innerSet(path, value);
          }, { kind: classify(path) });
        } else {
          await innerSet(path, value);
          await cache.delete(key);
        }
        await cache.invalidate(keys.rangePrefix(path));
      },
    }),
  };
}

/**
 * One prefetch loader per (cache, namespace): wrapping the same dataset again (per request, say)
 * replaces the registration instead of piling up loaders that keep old stores alive.
 */
const registrations = new WeakMap<TieredCache, Map<string, () => void>>();

function registerOnce(cache: TieredCache, prefix: string, load: PrefetchLoader): void {
  let byPrefix = registrations.get(cache);
  if (!byPrefix) registrations.set(cache, (byPrefix = new Map()));
  byPrefix.get(prefix)?.();
  byPrefix.set(prefix, cache.registerLoader(prefix, load));
}

/**
 * Wraps a zarrita store so every read goes through `cache`:
 * `const store = withCache(new FetchStore(url), cache)`.
 */
export function withCache<S extends AsyncReadable>(store: S, cache: TieredCache, options: WithCacheOptions = {}): S {
  if (store === null || typeof store !== "object" || typeof (store as AsyncReadable).get !== "function") {
    throw new ZarrsCacheError("INVALID_ARGUMENT", "withCache(store, cache): store must be a zarrita store with a get(key) method");
  }
  return withOverrides(store, cachingOverrides(store, { ...options, cache })) as S;
}
