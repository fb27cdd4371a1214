import type { CacheKeys, ZarrArray } from "@zarrs-cache/core";

/** A demand read of one chunk, as strategies see it. Valid during the call only: the object is reused. */
export interface ChunkRead {
  /** The cache key that was read. */
  readonly key: string;
  readonly namespace: string;
  readonly keys: CacheKeys;
  readonly array: ZarrArray;
  /** The chunk's coordinates on `array.chunkGrid` (inner chunks of a sharded array). */
  readonly chunk: readonly number[];
}

/** How a prefetch a strategy asked for turned out, as adaptive strategies learn it. */
export type PrefetchFate = "used" | "late" | "wasted";

/**
 * A warming strategy. Every hook is optional; each is called synchronously on the read path or
 * from the plugin's timer, so it must be cheap and must not throw (an exception is reported as an
 * `error` event and the strategy is skipped for that read).
 */
export interface WarmingStrategy {
  /** Names the strategy in `stats()`. */
  readonly name: string;
  /** Higher runs first when prefetches wait (neighbour 1, predictive 2, time-aware 0). */
  readonly priority: number;
  /** A demand read of a chunk: the chunks (on `read.array.chunkGrid`) worth loading next, best first. */
  onChunkRead?(read: ChunkRead): readonly (readonly number[])[] | undefined;
  /** Any demand read of a cache key. */
  onKeyRead?(key: string): void;
  /** Called by the plugin's timer and by `warming.tick()`: cache keys to warm now. */
  tick?(): readonly string[] | undefined;
  /** How a prefetch this strategy asked for turned out. `array` is set for chunk prefetches. */
  onFate?(fate: PrefetchFate, array: ZarrArray | undefined): void;
}

/** Per-strategy counters (`warming.stats()`). */
export interface StrategyStats {
  /** Prefetches started (sent to the cache). */
  issued: number;
  /** Loaded from upstream by a prefetch. */
  loaded: number;
  /** Found in a tier already (or loading already): nothing to do. */
  alreadyCached: number;
  /** Loaded ahead and then read. */
  used: number;
  /** Loaded ahead and dropped (evicted, or missed by a later read) before anyone read it. */
  wasted: number;
  /** A reader asked while the prefetch was still loading: it waited less, but waited. */
  late: number;
  /** Stopped before it answered (pause, abort, close). */
  cancelled: number;
  /** Loads that failed (reported as `error` events). */
  failed: number;
  /** Candidates dropped because the queue was full or the unread-bytes cap was reached. */
  dropped: number;
  /** Bytes loaded from upstream, and the part of them read so far. */
  bytesLoaded: number;
  bytesUsed: number;
}

export function emptyStrategyStats(): StrategyStats {
  return {
    issued: 0,
    loaded: 0,
    alreadyCached: 0,
    used: 0,
    wasted: 0,
    late: 0,
    cancelled: 0,
    failed: 0,
    dropped: 0,
    bytesLoaded: 0,
    bytesUsed: 0,
  };
}
