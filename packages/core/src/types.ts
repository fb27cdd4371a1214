/** A cached value and when it expires. */
export interface CacheEntry {
  /** The bytes. A tier may return its own buffer: callers must not mutate it. */
  value: Uint8Array;
  /** Absolute expiry time in ms since the epoch (`Date.now()` clock), or undefined for no expiry. */
  expiresAt?: number;
}

export interface SetOptions {
  /** Time to live in ms (a positive finite number). Omitted: the tier's default TTL, if any. */
  ttl?: number;
  /**
   * The caller hands the buffer over and will never touch it again, so an in-process tier may
   * keep it instead of copying (a wrapper that built the buffer itself, like `compressed()`).
   * Tiers are free to copy anyway.
   */
  transfer?: boolean;
  /**
   * The value is a read-through fill (loaded from upstream or copied from a lower tier), not an
   * application write: a shared tier need not tell other nodes to drop their copies of it.
   */
  fill?: boolean;
  /**
   * With `fill`: when the load (or the lookup that found the value in a lower tier) began, in ms
   * since the epoch (`Date.now()`). The TieredCache sets it on every fill. A shared tier (one that
   * other processes or nodes write too: disk, Redis) uses it for a conditional fill: the fill
   * never replaces a live entry (another process's newer write or fill), and is refused when an
   * application delete, prefix delete or clear of that key ran at or after this time — such
   * removals leave a tombstone for a bounded window (each tier's `tombstoneTtl`, longer than
   * the default `loadTimeout`), and a fill whose load began longer ago than that window is
   * refused too. Refused fills resolve normally (nothing stored). Tombstones are never values:
   * reads treat them as misses. Omitted with `fill`: the load is taken to have started now (the
   * fill still never replaces a live entry). In-process tiers (memory) may ignore it: the
   * TieredCache's own flights already order fills and changes within one process. Wrappers
   * (`compressed()`, `hybrid()`) pass it on unchanged.
   */
  loadStartedAt?: number;
}

export interface TierGetOptions {
  /**
   * `false` when the caller will not load the value on a miss (a plain lookup or a prefetch
   * probe): a shared tier may then skip cross-process load coordination (Redis single-flight).
   * `true` when the caller loads the value on a miss and, unless its load fills the tier, calls
   * `loadSettled` (a TieredCache's loads): a tier that makes other processes wait for such a load
   * (the disk tier's single-flight) coordinates only then. Wrappers pass it on to the tier they wrap.
   */
  load?: boolean;
}

/**
 * Counters every tier reports. `entries` and `bytes` are what the tier holds now; the rest
 * count since the tier was created. Tiers add their own counters (corruptions, promotions…).
 */
export interface TierStats {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  evictions: number;
  errors: number;
  /** Entries held now, or undefined where the tier cannot know cheaply (a shared Redis). */
  entries?: number;
  /** Bytes held now (payload plus the tier's overhead estimate), or undefined if unknown. */
  bytes?: number;
  [counter: string]: number | undefined;
}

/**
 * A message from a tier that entries in the tiers above it are stale. A shared tier (Redis)
 * sends this when another node writes or invalidates; the TieredCache then drops those keys
 * from its upper tiers.
 */
export type TierInvalidation =
  | { kind: "keys"; keys: string[] }
  | { kind: "prefix"; prefix: string }
  /** Messages may have been missed (a reconnect): drop everything above this tier. */
  | { kind: "all" };

/** What a hold covers (see `CacheTier.hold`): one key, or every key starting with `prefix` ("" for all). */
export type HoldScope = { key: string; prefix?: undefined } | { prefix: string; key?: undefined };

/**
 * The one contract every storage level implements. Values are `Uint8Array` end to end.
 * Keys are non-empty strings; each tier documents its own size limits.
 */
export interface CacheTier {
  /** A short name for stats and events, e.g. "memory" or "disk". */
  readonly name: string;

  /**
   * Optional: the largest value (in bytes) `set` accepts; larger values throw VALUE_TOO_LARGE.
   * Wrappers use it for their own defaults (`compressed()` caps decompressed sizes at it).
   * Undefined when the tier states no limit.
   */
  readonly maxValueBytes?: number;

  /** The entry, or undefined when absent or expired. */
  get(key: string, options?: TierGetOptions): Promise<CacheEntry | undefined>;

  /**
   * Optional synchronous lookup for in-process tiers; it lets the TieredCache answer an L1
   * hit with no extra await. Same semantics as `get` (counts a hit or a miss).
   */
  getSync?(key: string): CacheEntry | undefined;

  /** Optional batched lookup (one round trip for many keys). Same order as `keys`. */
  getMany?(keys: readonly string[]): Promise<(CacheEntry | undefined)[]>;

  /** Stores a value. A value the tier cannot hold (too large) throws VALUE_TOO_LARGE and changes nothing. */
  set(key: string, value: Uint8Array, options?: SetOptions): Promise<void>;

  /** Removes a key; true when something was removed. */
  delete(key: string): Promise<boolean>;

  /** Optional efficient removal of every key starting with `prefix`; returns how many were removed. */
  deletePrefix?(prefix: string): Promise<number>;

  has(key: string): Promise<boolean>;

  /** Removes every entry this tier owns (only its own namespace for shared tiers). */
  clear(): Promise<void>;

  /** Every live key starting with `prefix` (all keys when omitted). */
  keys(prefix?: string): AsyncIterable<string>;

  stats(): TierStats;

  /**
   * Optional synchronous check run by `build()`: throws INVALID_CONFIG naming the bad option
   * (an unwritable directory, say) so that misconfiguration fails early.
   */
  open?(): void;

  /** Optional subscription to entries the tier dropped on its own (size bound or expiry). */
  onEviction?(listener: (key: string, reason: "evict" | "expire") => void): () => void;

  /**
   * Optional: a load that followed this tier's miss (a `get` without `load: false`) ended without
   * filling this tier: it failed, was aborted, timed out, or its result was not cached. A shared
   * tier releases what it took for that load (a cross-process single-flight lock), so other nodes
   * stop waiting for a value that will not come. Must not throw.
   */
  loadSettled?(key: string, outcome: "failed" | "aborted" | "uncached"): void;

  /**
   * Optional, for a tier that other processes fill too (a disk directory several processes
   * share): refuses every fill (`SetOptions.fill`) of `scope` whose load began before the hold
   * ended, until `until` (ms since the epoch, `Date.now()` clock) or until this tier instance
   * `release`s it. What the tier holds in `scope` stays (the holder deletes what it must).
   * Application writes, deletes and clears still work, and the hold outlives them. Holds of
   * several holders (tier instances) add up; a holder can only release its own. The TieredCache
   * holds the tiers above a level whose update failed and may have left the older value there
   * (Redis during a partition), so that another process sharing the tier cannot copy that older
   * value into it, then deletes from them any copy other than its new value.
   */
  hold?(scope: HoldScope, until: number): Promise<void>;

  /** Optional, with `hold`: ends this instance's hold of `scope` now (fills whose load began earlier stay refused). */
  release?(scope: HoldScope): Promise<void>;

  /**
   * Optional, for a tier that repairs failed updates later (Redis's partition repair): true while
   * an update of a key in `scope` failed here and is not yet repaired, so that this tier may still
   * hold an older value. The TieredCache keeps its holds of the tiers above while this is true.
   * Must not throw.
   */
  repairPending?(scope: HoldScope): boolean;

  /** Optional subscription to invalidations coming from outside this process. */
  onInvalidation?(listener: (message: TierInvalidation) => void): () => void;

  /** Releases resources. Further calls other than `close()` throw CLOSED. Idempotent. */
  close(): Promise<void>;
}

export function emptyStats(): TierStats {
  return { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 };
}
