export { ZarrsCacheError, isZarrsCacheError, type ZarrsCacheErrorCode } from "./errors.js";
export {
  emptyStats,
  type CacheEntry,
  type CacheTier,
  type HoldScope,
  type SetOptions,
  type TierGetOptions,
  type TierInvalidation,
  type TierStats,
} from "./types.js";
export { CacheEmitter, HitBuffer, type HitBatch, type HitBatchListener, type HitSubscription } from "./hit-batch.js";
export { CACHE_EVENT_TYPES, Emitter, type CacheEvents, type CacheEventListener, type CacheEventType, type EventOrigin } from "./events.js";
export {
  TieredCache,
  type CacheStats,
  type LevelStats,
  type Loader,
  type LoadOptions,
  type PrefetchLoader,
  type TieredCacheOptions,
  type TierWriteOutcome,
  type WritePolicy,
  type WriteResult,
} from "./tiered-cache.js";
export { DEFAULT_LOAD_TIMEOUT, DEFAULT_TTL, type Ttl, type TtlClasses } from "./tiered-cache-options.js";
export { json, jsonCodec, text, textCodec, typed, TypedCache, type ByteCache, type ValueCodec, type ValueLoader } from "./values.js";
export { CacheNamespace, namespace } from "./namespace.js";
export { CacheBuilder, createCache, type CachePlugin, type PluginContext } from "./builder.js";
export { DatasetArrays, type KeyPlace } from "./plugin-arrays.js";
export type { PrefetchOptions, PrefetchOutcome, PrefetchTarget } from "./prefetch-queue.js";
export { bindStore, STORE_BINDING, storeBinding, type StoreBinding } from "./store-binding.js";
export {
  assertKey,
  assertKnownOptions,
  assertSetOptions,
  assertTtl,
  assertValue,
  closestName,
  configNumber,
  remainingTtl,
} from "./validate.js";
export { basename, chunkKey, classifyKey, isMetadataKey, parseChunkKey, type ChunkKey, type KeyKind } from "./zarr-keys.js";
export {
  ArrayLocator,
  ChunkGrid,
  checkArrayMetadata,
  crc32c,
  decodeChunkKey,
  decodeShardIndex,
  encodeChunkKey,
  normalizeArrayPath,
  parseArrayMetadata,
  selectionRegion,
  ShardIndex,
  shardIndexByteLength,
  shardIndexRange,
  ZarrArray,
  zarrArray,
  type ArrayMetadataInput,
  type ArraySelection,
  type ByteRange,
  type ChunkKeyEncoding,
  type ChunkKeySeparator,
  type ChunkLocation,
  type DimensionSelection,
  type GridRegion,
  type KeyPlacement,
  type NeighbourOptions,
  type RangeRequest,
  type ReadRequest,
  type ShardIndexEntry,
  type ShardingLayout,
  type SliceSelection,
  type ZarrArrayMetadata,
  type ZarrArrayOptions,
} from "./zarr-array/index.js";
export { CACHE_KEY_FORMAT, CacheKeys, cacheKey, parseCacheKey, type KeyRange, type ParsedCacheKey } from "./cache-key.js";
export * from "./tier-kit/index.js";
