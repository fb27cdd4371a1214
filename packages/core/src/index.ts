export { ZarrsCacheError, isZarrsCacheError, type ZarrsCacheErrorCode } from "./errors.js";
export { emptyStats, type CacheEntry, type CacheTier, type SetOptions, type TierGetOptions, type TierInvalidation, type TierStats } from "./types.js";
export { Emitter, type CacheEvents, type CacheEventListener, type CacheEventType } from "./events.js";
export {
  TieredCache,
  type LevelStats,
  type Loader,
  type LoadOptions,
  type TieredCacheOptions,
  type WritePolicy,
} from "./tiered-cache.js";
export { CacheBuilder, createCache, type CachePlugin, type PluginContext } from "./builder.js";
export { assertKey, assertKnownOptions, assertSetOptions, assertTtl, assertValue, closestName, configNumber, remainingTtl } from "./validate.js";
export { basename, chunkKey, classifyKey, isMetadataKey, parseChunkKey, type ChunkKey, type KeyKind } from "./zarr-keys.js";
export { CACHE_KEY_FORMAT, CacheKeys, cacheKey, parseCacheKey, type ByteRange, type ParsedCacheKey } from "./cache-key.js";
