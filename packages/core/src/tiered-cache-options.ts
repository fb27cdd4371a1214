import type { TierStats } from "./types.js";
import type { KeyKind } from "./zarr-keys.js";

/** Loads a value from upstream; undefined means the key does not exist there. */
export type Loader = () => Promise<Uint8Array | undefined>;

export type WritePolicy = "write-through" | "write-around";

export interface TieredCacheOptions {
  /** TTLs in ms per key kind; omitted means no expiry. `absent` is for cached "does not exist". */
  ttl?: { metadata?: number; chunk?: number; other?: number; absent?: number };
  /** Cache "absent" answers of the loader (default true). */
  negativeCaching?: boolean;
  /** write-through (default): store first, then cache the new value. write-around: invalidate. */
  writePolicy?: WritePolicy;
  /** Most fills of lower tiers in flight at once; past it a fill is skipped and counted (default 1024). */
  maxPendingWrites?: number;
}

export interface LoadOptions {
  /** The TTL class of the key (default "other"). */
  kind?: KeyKind;
  /** Aborts this caller's wait only; a load shared with other callers goes on. */
  signal?: AbortSignal;
}

/** Per-level counters of a TieredCache, beside the tier's own stats. */
export interface LevelStats {
  name: string;
  level: number;
  /** Lookups this cache answered from this level. */
  hits: number;
  /** hits / lookups that reached this level. */
  hitRate: number;
  tier: TierStats;
}
