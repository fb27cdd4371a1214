import { ZarrsCacheError, isZarrsCacheError } from "./errors.js";
import type { CacheEventListener, CacheEventType } from "./events.js";
import type { HitBatchListener, HitSubscription } from "./hit-batch.js";
import { TieredCache, type LevelStats, type TieredCacheOptions } from "./tiered-cache.js";
import type { CacheTier, TierStats } from "./types.js";
import { validateCacheOptions } from "./tiered-cache-options.js";
import { assertTier } from "./tier-kit/assert-tier.js";
import { describe } from "./validate.js";
import type { KeyKind } from "./zarr-keys.js";
import type { PrefetchOptions, PrefetchOutcome } from "./prefetch-queue.js";

/**
 * What a plugin sees of the cache: events, prefetch, reads ahead and counters; never the tiers.
 * A plugin that needs the arrays behind keys builds a `DatasetArrays` over `read` (so caches
 * without such a plugin do not ship the array model in a browser bundle).
 */
export interface PluginContext {
  on<T extends CacheEventType>(type: T, listener: CacheEventListener<T>): () => void;
  /**
   * `"hits"`: every `hit` event's content (any level and origin) in batches (`HitBatch`), so a
   * memory hit costs the plugin a few array stores, not an event object and a call. A batch arrives
   * later: when 512 hits wait, on the next macrotask, before any other event the cache emits (a
   * plugin that also listens with `on` sees every read in order), and on the subscription's
   * `flush()`, which a plugin calls before it reads state built from hits. Use it instead of `on("hit")`.
   */
  on(type: "hits", listener: HitBatchListener): HitSubscription;
  /**
   * Asks the cache to bring keys in ahead of use (see `TieredCache.prefetch`): not counted as
   * demand, demand first, `priority`, `concurrency`, `target`, and a per-key outcome. A prefetch
   * waits for its loads like a reader: when its `signal` aborts, loads nobody else waits for are
   * cancelled. Never rejects because a load failed (only for bad arguments).
   */
  prefetch(keys: readonly string[], options?: PrefetchOptions): Promise<PrefetchOutcome[]>;
  /** Reads a key through the cache as a prefetch (metadata, shard indexes); see `TieredCache.readAhead`. */
  read(key: string, options?: { kind?: KeyKind; signal?: AbortSignal }): Promise<Uint8Array | undefined>;
  /** True when the first tier holds `key` now; counts nothing (see `TieredCache.holds`). */
  holds(key: string): boolean;
  /** Reports a plugin's failure as an `error` event (`operation` names what failed). */
  reportError(operation: string, key: string | undefined, error: unknown): void;
  /** The cache's aggregate counters (`TieredCache.stats()`), read-only. */
  stats(): TierStats;
  /** Per-level counters with each tier's own stats (`TieredCache.levelStats()`), read-only. */
  levelStats(): LevelStats[];
}

export interface CachePlugin {
  readonly name: string;
  /** Called once by `build()`. May return a teardown run by `close()`. */
  setup(context: PluginContext): void | (() => void | Promise<void>);
}

/** Collects tiers (fastest first) and plugins; `build()` validates everything and returns the cache. */
export class CacheBuilder {
  private readonly tierList: CacheTier[] = [];
  private readonly plugins: CachePlugin[] = [];

  constructor(private readonly options: TieredCacheOptions = {}) {}

  /** Adds the next (slower, larger) tier. */
  tier(tier: CacheTier): this {
    this.tierList.push(tier);
    return this;
  }

  use(plugin: CachePlugin): this {
    this.plugins.push(plugin);
    return this;
  }

  build(): TieredCache {
    validateCacheOptions(this.options);
    if (this.tierList.length === 0) {
      throw new ZarrsCacheError("INVALID_CONFIG", "createCache(): add at least one tier with .tier(...) before build()");
    }
    this.tierList.forEach((tier, i) => {
      assertTier(tier, `createCache(): tier ${i} (${describe(tier)}) is not a CacheTier`);
      if (this.tierList.indexOf(tier) !== i) {
        throw new ZarrsCacheError("INVALID_CONFIG", `createCache(): tier ${i} ("${tier.name}") was added twice`);
      }
    });
    for (const tier of this.tierList) {
      try {
        tier.open?.();
      } catch (error) {
        if (isZarrsCacheError(error)) throw error;
        throw new ZarrsCacheError(
          "INVALID_CONFIG",
          `createCache(): tier "${tier.name}" failed to open: ${(error as Error)?.message ?? error}`,
          { cause: error },
        );
      }
    }
    const cache = new TieredCache(this.tierList, this.options);
    for (const [i, plugin] of this.plugins.entries()) {
      if (typeof plugin?.setup !== "function") {
        throw new ZarrsCacheError("INVALID_CONFIG", `createCache(): plugin ${i} (${describe(plugin)}) has no setup(context) function`);
      }
      const reportError = (operation: string, key: string | undefined, error: unknown) => {
        if (cache.events.has("error")) cache.events.emit("error", { operation, key, error });
      };
      const read = (key: string, options?: { kind?: KeyKind; signal?: AbortSignal }) => cache.readAhead(key, options);
      const context: PluginContext = {
        on: ((type: CacheEventType | "hits", listener: unknown) =>
          type === "hits"
            ? cache.events.hits.on(listener as HitBatchListener)
            : cache.events.on(type, listener as CacheEventListener<CacheEventType>)) as unknown as PluginContext["on"],
        prefetch: (keys, options) => cache.prefetch(keys, options),
        stats: () => cache.stats(),
        levelStats: () => cache.levelStats(),
        read,
        holds: (key) => cache.holds(key),
        reportError,
      };
      const teardown = plugin.setup(context);
      if (typeof teardown === "function") cache.addTeardown(teardown);
    }
    return cache;
  }
}

/** Starts a cache configuration: `createCache().tier(memory(...)).build()`. */
export function createCache(options: TieredCacheOptions = {}): CacheBuilder {
  return new CacheBuilder(options);
}
