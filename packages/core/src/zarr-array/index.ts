/**
 * The zarr array model: metadata → chunk grid, chunk keys ⇄ grid coordinates, shards ⇄ inner
 * chunks and the exact reads zarrita makes. Shared by the zarrita adapter, warming and metrics.
 */
export { ArrayLocator, type KeyPlacement } from "./locator.js";
export {
  normalizeArrayPath,
  ZarrArray,
  zarrArray,
  type ChunkLocation,
  type ReadRequest,
  type ZarrArrayOptions,
} from "./array-model.js";
export { crc32c } from "./crc32c.js";
export { ChunkGrid, type GridRegion, type NeighbourOptions } from "./grid.js";
export { decodeChunkKey, encodeChunkKey } from "./key-encoding.js";
export {
  checkArrayMetadata,
  parseArrayMetadata,
  type ArrayMetadataInput,
  type ChunkKeyEncoding,
  type ChunkKeySeparator,
  type ShardingLayout,
  type ZarrArrayMetadata,
} from "./metadata.js";
export { selectionRegion, type ArraySelection, type DimensionSelection, type SliceSelection } from "./selection.js";
export {
  decodeShardIndex,
  ShardIndex,
  shardIndexByteLength,
  shardIndexRange,
  type ByteRange,
  type RangeRequest,
  type ShardIndexEntry,
} from "./shard-index.js";
