import type { AbsolutePath, AsyncReadable, GetOptions, RangeQuery } from "@zarrita/storage";
import {
  type KeyKind,
  type PrefetchLoader,
  type StoreBinding,
  type TieredCache,
  ZarrsCacheError,
  assertKnownOptions,
  bindStore,
  STORE_BINDING,
  classifyKey,
} from "@zarrs-cache/core";
import { defineStoreExtension } from "zarrita";
import { CopyPolicy } from "./copy-policy.js";
import { StoreKeys, storeIdentity } from "./keys.js";
import { type CoalesceOptions, RangeBatcher } from "./range-batcher.js";
import { withOverrides } from "./with-overrides.js";

export interface WithCacheOptions {
  /**
   * Identifies the dataset inside shared tiers (disk, Redis). Default: the store's URL
   * (FetchStore). Required for stores without a URL.
   */
  namespace?: string;
  /**
   * When a caller gets its own copy of the cached bytes, so that a caller (or a codec) that
   * mutates what it got cannot corrupt later reads. `"auto"` (default): a copy for everything
   * except chunks of arrays whose metadata this store served and whose codecs start decoding
   * with a compressor (gzip, zlib, blosc, lz4, zstd), which zarrita only reads. `true`: a copy
   * on every read (for code that calls `store.get` on chunk keys itself and writes to the
   * result). `false`: never a copy, safe only if nothing mutates the result.
   */
  copy?: boolean | "auto";
  /**
   * Range reads of one path that miss together are fetched as one request when at most `gap`
   * bytes apart (default `{ gap: 32768, maxBytes: 64 MiB }`); each range is still cached under
   * its own key. `false` fetches every range alone.
   */
  coalesce?: CoalesceOptions | false;
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

const OPTION_NAMES = ["namespace", "copy", "coalesce", "shouldCache", "classify"] as const;
const KINDS: readonly string[] = ["metadata", "chunk", "other"];

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === "object" ? `an instance of ${value.constructor?.name ?? "Object"}` : `${typeof value} ${String(value)}`;
}

function invalid(owner: string, option: string, must: string, value: unknown): ZarrsCacheError {
  return new ZarrsCacheError("INVALID_CONFIG", `${owner}: option "${option}" ${must}, got ${describeValue(value)}`);
}

/** Checks everything a caller passed; every failure is INVALID_CONFIG naming the option. */
function validate(owner: string, cache: unknown, options: unknown, known: readonly string[]): asserts options is WithCacheOptions {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    const example = owner === "cacheExtension()" ? "{ cache }" : '{ namespace: "my-dataset" }';
    throw new ZarrsCacheError("INVALID_CONFIG", `${owner}: options must be an object like ${example}, got ${describeValue(options)}`);
  }
  assertKnownOptions(owner, options, known);
  const c = cache as Partial<TieredCache> | null;
  if (typeof c?.getOrLoad !== "function" || typeof c?.write !== "function") {
    const where = owner === "cacheExtension()" ? `${owner}: option "cache"` : "withCache(store, cache): cache";
    throw new ZarrsCacheError("INVALID_CONFIG", `${where} must be a cache built with createCache()...build(), got ${describeValue(cache)}`);
  }
  const o = options as Record<string, unknown>;
  if (o.namespace !== undefined && (typeof o.namespace !== "string" || o.namespace === "")) {
    throw invalid(owner, "namespace", "must be a non-empty string", o.namespace);
  }
  for (const name of ["shouldCache", "classify"] as const) {
    if (o[name] !== undefined && typeof o[name] !== "function") throw invalid(owner, name, "must be a function", o[name]);
  }
  if (o.copy !== undefined && typeof o.copy !== "boolean" && o.copy !== "auto")
    throw invalid(owner, "copy", 'must be true, false or "auto"', o.copy);
  validateCoalesce(owner, o.coalesce);
}

function validateCoalesce(owner: string, coalesce: unknown): void {
  if (coalesce === undefined || coalesce === false) return;
  if (coalesce === null || typeof coalesce !== "object" || Array.isArray(coalesce)) {
    throw invalid(owner, "coalesce", "must be false or an object like { gap: 32768 }", coalesce);
  }
  assertKnownOptions(`${owner} option "coalesce"`, coalesce as Record<string, unknown>, ["gap", "maxBytes"]);
  for (const name of ["gap", "maxBytes"] as const) {
    const value = (coalesce as Record<string, unknown>)[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= (name === "gap" ? 0 : 1))) {
      throw invalid(owner, `coalesce.${name}`, name === "gap" ? "must be a non-negative integer" : "must be a positive integer", value);
    }
  }
}

/**
 * The caching store extension: `zarr.extendStore(store, (s) => cacheExtension(s, { cache }))`.
 * Overrides `get`, `getRange` (when the store has it) and `set` (when the store has it);
 * everything else is the wrapped store's own.
 */
export const cacheExtension = defineStoreExtension((inner: AsyncReadable, options: CacheExtensionOptions) => {
  validate("cacheExtension()", (options as CacheExtensionOptions | null)?.cache, options, ["cache", ...OPTION_NAMES]);
  return cachingOverrides("cacheExtension()", inner, options.cache, options);
});

/** The methods both forms of the wrapper install over the store's own; `rest` is validated. */
function cachingOverrides(owner: string, inner: AsyncReadable, cache: TieredCache, rest: WithCacheOptions) {
  if (inner === null || typeof inner !== "object" || typeof inner.get !== "function") {
    const got = describeValue(inner);
    throw new ZarrsCacheError("INVALID_ARGUMENT", `${owner}: the store must be a zarrita store with a get(key) method, got ${got}`);
  }
  const namespace = rest.namespace ?? storeIdentity(inner);
  if (namespace === undefined) {
    const hint = 'pass option "namespace" (e.g. "my-dataset")';
    throw new ZarrsCacheError("INVALID_CONFIG", `${owner}: this store has no URL to identify it; ${hint}`);
  }
  const keys = new StoreKeys(namespace);
  const copyMode = rest.copy ?? "auto";
  const policy = copyMode === "auto" ? new CopyPolicy() : undefined;
  const classify = rest.classify === undefined ? classifyKey : checkedClassify(owner, rest.classify);
  const shouldCache = rest.shouldCache;
  const innerGet = inner.get.bind(inner);
  const innerGetRange = inner.getRange?.bind(inner);
  const innerSet = (inner as Writable).set?.bind(inner);

  // A load may be shared by many callers: it takes the load's own signal (it fires once every
  // caller waiting for the load aborted), never one caller's.
  const batcher = innerGetRange !== undefined && rest.coalesce !== false ? new RangeBatcher(innerGetRange, rest.coalesce ?? {}) : undefined;
  const load = (path: AbsolutePath, range: RangeQuery | undefined, signal: AbortSignal) =>
    range === undefined
      ? innerGet(path, { signal })
      : batcher !== undefined
        ? batcher.fetch(path, range, signal)
        : innerGetRange!(path, range, { signal });

  registerOnce(cache, keys.prefix, (key, signal) => {
    const parsed = keys.parse(key);
    if (!parsed || (parsed.range && !innerGetRange)) return Promise.resolve(undefined);
    return load(parsed.path as AbsolutePath, parsed.range, signal);
  });

  const kindOf = (path: AbsolutePath, range: RangeQuery | undefined): KeyKind => (range === undefined ? classify(path) : "chunk");
  const cached = (path: AbsolutePath, range: RangeQuery | undefined) => shouldCache === undefined || shouldCache(path, kindOf(path, range));
  // What a caller gets for a cached value (null = cached "absent").
  const handOut =
    policy !== undefined
      ? (path: AbsolutePath, range: RangeQuery | undefined, value: Uint8Array | null | undefined) => {
          if (value == null) return undefined;
          policy.observe(path, value);
          return policy.needsCopy(path, range) ? copyOf(value) : value;
        }
      : copyMode
        ? (_path: AbsolutePath, _range: RangeQuery | undefined, value: Uint8Array | null | undefined) =>
            value == null ? undefined : copyOf(value)
        : (_path: AbsolutePath, _range: RangeQuery | undefined, value: Uint8Array | null | undefined) =>
            value == null ? undefined : value;

  // Everything below returns a promise and never throws synchronously (zarrita chains .then).
  const read = (path: AbsolutePath, range: RangeQuery | undefined, opts: GetOptions | undefined): Promise<Uint8Array | undefined> => {
    try {
      if (!cached(path, range)) return range === undefined ? innerGet(path, opts) : innerGetRange!(path, range, opts);
      const key = range === undefined ? keys.whole(path) : keys.range(path, range);
      const hit = cache.peek(key);
      if (hit !== undefined) return Promise.resolve(handOut(path, range, hit));
      return loadAndHandOut(key, path, range, opts);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const loadAndHandOut = (key: string, path: AbsolutePath, range: RangeQuery | undefined, opts: GetOptions | undefined) => {
    const pending = cache.load(key, (signal) => load(path, range, signal), { kind: kindOf(path, range), signal: opts?.signal });
    return copyMode === false ? pending : pending.then((value) => handOut(path, range, value));
  };

  const binding: StoreBinding = {
    cache,
    keys,
    ranges: innerGetRange !== undefined,
    fetch: (path, range, signal) => load(path as AbsolutePath, range, signal),
  };

  return {
    // `cacheExtension`'s Proxy answers reads of the binding from here, so `warmRegion` finds the
    // cache behind an extended store (Object.entries skips it: withCache binds it itself).
    [STORE_BINDING]: binding,
    get(path: AbsolutePath, opts?: GetOptions): Promise<Uint8Array | undefined> {
      if (shouldCache !== undefined) return read(path, undefined, opts);
      // The hot path, kept flat: an L1 hit is answered with no await and no key classification.
      try {
        const key = keys.whole(path);
        const hit = cache.peek(key);
        if (hit !== undefined) return Promise.resolve(handOut(path, undefined, hit));
        return loadAndHandOut(key, path, undefined, opts);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    ...(innerGetRange && {
      getRange(path: AbsolutePath, range: RangeQuery, opts?: GetOptions): Promise<Uint8Array | undefined> {
        return read(path, range, opts);
      },
    }),
    ...(innerSet && {
      async set(path: AbsolutePath, value: Uint8Array): Promise<void> {
        const key = keys.whole(path);
        policy?.observe(path, value);
        const dropRanges = () => cache.invalidate(keys.rangePrefix(path));
        // One write per key at a time, so the cache ends up holding what the store ended up holding.
        await oneAtATime(cache, key, async () => {
          if (cached(path, undefined)) {
            // Store first; the cache changes only after the store accepted the write. Ranges of
            // the path are dropped before the whole value is updated, so no read that starts
            // after set() resolved finds bytes older than the write.
            await cache.write(
              key,
              value,
              async () => {
                await innerSet(path, value);
                batcher?.forget(path);
                await dropRanges();
              },
              { kind: classify(path) },
            );
          } else {
            await innerSet(path, value);
            batcher?.forget(path);
            await Promise.all([cache.delete(key), dropRanges()]);
          }
        });
      },
    }),
  };
}

/** `classify` with its answer checked: a bad answer would silently pick no TTL class. */
function checkedClassify(owner: string, classify: (path: string) => KeyKind): (path: string) => KeyKind {
  return (path) => {
    const kind = classify(path);
    if (KINDS.includes(kind)) return kind;
    throw invalid(owner, "classify", `must return "metadata", "chunk" or "other" (for path ${JSON.stringify(path)})`, kind);
  };
}

/**
 * Writes of one key through any wrapper over one cache run one after another: two overlapping
 * writes could otherwise reach the store in one order and the cache in the other.
 */
const writeQueues = new WeakMap<TieredCache, Map<string, Promise<unknown>>>();

function oneAtATime(cache: TieredCache, key: string, task: () => Promise<void>): Promise<void> {
  let queues = writeQueues.get(cache);
  if (!queues) writeQueues.set(cache, (queues = new Map()));
  const run = (queues.get(key) ?? Promise.resolve()).then(task);
  const settled = run.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return run;
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
  validate("withCache()", cache, options, OPTION_NAMES);
  const overrides = cachingOverrides("withCache()", store, cache, options);
  const wrapper = withOverrides(store, overrides);
  // Tools handed only the store (warmRegion) find the cache and dataset behind it.
  bindStore(wrapper, overrides[STORE_BINDING]);
  return wrapper as S;
}
