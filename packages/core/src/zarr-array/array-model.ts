import { assertKnownOptions } from "../validate.js";
import { invalid, isRecord, show } from "./errors.js";
import { ChunkGrid, type GridRegion } from "./grid.js";
import { decodeChunkKey, encodeChunkKey } from "./key-encoding.js";
import {
  type ArrayMetadataInput,
  checkArrayMetadata,
  parseArrayMetadata,
  type ShardingLayout,
  type ZarrArrayMetadata,
} from "./metadata.js";
import { type ArraySelection, selectionRegion } from "./selection.js";
import {
  type ByteRange,
  decodeShardIndex,
  type RangeRequest,
  type ShardIndex,
  shardIndexByteLength,
  shardIndexRange,
} from "./shard-index.js";

/** Options of `zarrArray`. */
export interface ZarrArrayOptions {
  /** The array's path in its store, as zarrita's `arr.path` ("/" for a root array); default "/". */
  path?: string;
}

/** A read zarrita makes: `store.get(path)`, or `store.getRange(path, range)` when `range` is set. */
export interface ReadRequest {
  readonly path: string;
  readonly range?: RangeRequest;
}

/** Where a chunk (as zarrita's `getChunk(coords)` names it) is stored. */
export interface ChunkLocation {
  /** The chunk's coordinates on `chunkGrid`. */
  readonly chunk: readonly number[];
  /** The store path holding it: the chunk's own key, or its shard's. */
  readonly path: string;
  /** That key's coordinates on `keyGrid` (the chunk's own coordinates when unsharded). */
  readonly keyCoords: readonly number[];
  /** Sharded arrays only: the chunk's coordinates inside its shard and its position in the shard index. */
  readonly inner?: { readonly coords: readonly number[]; readonly index: number };
}

/**
 * The model of one zarr array: its grids, its keys and, for sharded arrays, where each inner
 * chunk's bytes are. Keys are absolute store paths exactly as zarrita requests them
 * (`/temp/c/0/1`); ranges are the `getRange` queries zarrita makes.
 *
 * Two grids: `chunkGrid` holds the chunks zarrita decodes (`arr.chunks`; inner chunks when
 * sharded) and `keyGrid` holds the store keys (the same grid unsharded, the shard grid when sharded).
 */
export class ZarrArray {
  /** The array's store path: "/" or "/a/b" (no trailing slash). */
  readonly path: string;
  readonly metadata: ZarrArrayMetadata;
  /** The grid of chunks zarrita decodes (inner chunks of a sharded array). */
  readonly chunkGrid: ChunkGrid;
  /** The grid of store keys: chunks, or shards of a sharded array. */
  readonly keyGrid: ChunkGrid;
  /** Inner chunks per shard along each dimension (sharded arrays only). */
  readonly chunksPerShard?: readonly number[];
  private readonly keyPrefix: string;
  private readonly innerGrid?: ChunkGrid;

  /** Prefer `zarrArray()`, which also parses raw metadata. The metadata is checked and copied here. */
  constructor(metadata: ZarrArrayMetadata, path = "/") {
    this.metadata = deepFreeze(checkArrayMetadata(metadata));
    this.path = normalizeArrayPath(path);
    this.keyPrefix = path === "/" ? "/" : `${path}/`;
    this.keyGrid = new ChunkGrid(metadata.shape, metadata.chunkShape);
    const sharding = metadata.sharding;
    if (sharding) {
      this.chunkGrid = new ChunkGrid(metadata.shape, sharding.chunkShape);
      this.chunksPerShard = metadata.chunkShape.map((n, d) => n / sharding.chunkShape[d]!);
      this.innerGrid = new ChunkGrid(
        this.chunksPerShard,
        this.chunksPerShard.map(() => 1),
      );
    } else {
      this.chunkGrid = this.keyGrid;
    }
  }

  get sharded(): boolean {
    return this.metadata.sharding !== undefined;
  }

  /** The store path of a key-grid cell (a chunk, or a shard when sharded). */
  key(keyCoords: readonly number[]): string {
    this.keyGrid.assertCell(keyCoords);
    return this.keyPrefix + encodeChunkKey(this.metadata.chunkKeyEncoding, keyCoords);
  }

  /** The key-grid coordinates of a store path, or undefined if it is not a key of this array on its grid. */
  parseKey(path: string): number[] | undefined {
    if (typeof path !== "string" || !path.startsWith(this.keyPrefix)) return undefined;
    return this.parseRelativeKey(path.slice(this.keyPrefix.length));
  }

  /** Like `parseKey` for a key relative to the array (`c/0/1`, `0.1`). */
  parseRelativeKey(key: string): number[] | undefined {
    const coords = decodeChunkKey(this.metadata.chunkKeyEncoding, this.keyGrid.rank, key);
    return coords !== undefined && this.keyGrid.contains(coords) ? coords : undefined;
  }

  /** Where a chunk of `chunkGrid` is stored: its key and, when sharded, its place in the shard. */
  locate(chunk: readonly number[]): ChunkLocation {
    this.chunkGrid.assertCell(chunk);
    const perShard = this.chunksPerShard;
    if (!perShard) return { chunk: [...chunk], path: this.key(chunk), keyCoords: [...chunk] };
    const keyCoords = chunk.map((c, d) => Math.floor(c / perShard[d]!));
    const coords = chunk.map((c, d) => c % perShard[d]!);
    return { chunk: [...chunk], path: this.key(keyCoords), keyCoords, inner: { coords, index: this.innerGrid!.linearIndex(coords) } };
  }

  /** The region of `chunkGrid` zarrita reads for a zarrita selection (see `selectionRegion`). */
  selectionRegion(selection: ArraySelection): GridRegion {
    return selectionRegion(this.chunkGrid, selection);
  }

  /** The region of `keyGrid` whose keys hold the chunks of a `chunkGrid` region. */
  keyRegion(chunkRegion: GridRegion): GridRegion {
    const { start, stop } = this.chunkGrid.clip(chunkRegion);
    const perShard = this.chunksPerShard;
    if (!perShard) return { start, stop };
    if (start.some((s, d) => s >= stop[d]!)) return { start: start.map(() => 0), stop: start.map(() => 0) };
    return { start: start.map((s, d) => Math.floor(s / perShard[d]!)), stop: stop.map((s, d) => Math.ceil(s / perShard[d]!)) };
  }

  /** The chunks (on `chunkGrid`) a key holds, in shard-index order, leaving out inner chunks past the array's edge. */
  chunksOfKey(keyCoords: readonly number[]): number[][] {
    this.keyGrid.assertCell(keyCoords);
    const perShard = this.chunksPerShard;
    if (!perShard) return [[...keyCoords]];
    const start = keyCoords.map((k, d) => k * perShard[d]!);
    return [...this.chunkGrid.cells({ start, stop: start.map((s, d) => s + perShard[d]!) })];
  }

  /** Sharded arrays: inner chunks per shard. */
  get chunksPerShardCount(): number {
    this.shardingLayout();
    return this.innerGrid!.size;
  }

  /** Sharded arrays: the encoded size of each shard index in bytes (16 per inner chunk, + 4 with crc32c). */
  get shardIndexByteLength(): number {
    return shardIndexByteLength(this.shardingLayout(), this.chunksPerShardCount);
  }

  /** Sharded arrays: the read of a shard's index (a suffix read, or the first bytes for `index_location: "start"`). */
  indexRequest(shardCoords: readonly number[]): ReadRequest {
    return { path: this.key(shardCoords), range: shardIndexRange(this.shardingLayout(), this.chunksPerShardCount) };
  }

  /** Sharded arrays: true when `range` is the range `indexRequest` reads. */
  isIndexRange(range: RangeRequest): boolean {
    if (!this.sharded || !isRecord(range)) return false;
    const index = shardIndexRange(this.shardingLayout(), this.chunksPerShardCount);
    const given = range as Partial<ByteRange & { suffixLength: number }>;
    return "suffixLength" in index
      ? given.suffixLength === index.suffixLength
      : given.offset === index.offset && given.length === index.length && given.suffixLength === undefined;
  }

  /** Sharded arrays: decodes the bytes `indexRequest` returned (checking the crc32c when present). */
  decodeIndex(bytes: Uint8Array): ShardIndex {
    return decodeShardIndex(bytes, this.shardingLayout(), this.chunksPerShardCount);
  }

  /**
   * The read zarrita makes for a chunk's bytes: `{ path }` unsharded; for a sharded array
   * `{ path, range: { offset, length } }` from the chunk's shard `index`, or undefined when the
   * index marks it empty (zarrita then reads nothing and uses the fill value).
   */
  chunkRequest(chunk: readonly number[], index?: ShardIndex): ReadRequest | undefined {
    const location = this.locate(chunk);
    if (!location.inner) return { path: location.path };
    if (index === undefined || index.count !== this.chunksPerShardCount) {
      const got = index === undefined ? "none" : `one of ${index.count} entries`;
      throw invalid(
        `array ${this.path} is sharded: chunkRequest needs the shard index of ${location.path} ` +
          `(${this.chunksPerShardCount} entries), got ${got}`,
      );
    }
    const entry = index.get(location.inner.index);
    if (entry === "empty") return undefined;
    return { path: location.path, range: { offset: entry.offset, length: entry.length } };
  }

  private shardingLayout(): ShardingLayout {
    const sharding = this.metadata.sharding;
    if (!sharding) throw invalid(`array ${this.path} is not sharded`);
    return sharding;
  }
}

/**
 * Builds the model of a zarr array from its `.zarray` / `zarr.json` (bytes, text or parsed
 * object, or an already normalised `ZarrArrayMetadata`) and its store path.
 */
export function zarrArray(metadata: ArrayMetadataInput | ZarrArrayMetadata, options: ZarrArrayOptions = {}): ZarrArray {
  if (!isRecord(options)) throw invalid(`zarrArray: options must be an object, got ${show(options)}`);
  assertKnownOptions("zarrArray", options, ["path"]);
  const path = normalizeArrayPath((options.path ?? "/") as string);
  const normalized =
    isRecord(metadata) && "zarrFormat" in metadata && !("zarr_format" in metadata)
      ? (metadata as unknown as ZarrArrayMetadata)
      : parseArrayMetadata(metadata as ArrayMetadataInput, { path });
  return new ZarrArray(normalized, path);
}

function deepFreeze<T extends object>(value: T): T {
  for (const field of Object.values(value)) if (typeof field === "object" && field !== null) deepFreeze(field);
  return Object.freeze(value);
}

/** "/" for the root, else "/a/b": a leading slash, no trailing one, no empty, "." or ".." segments. */
export function normalizeArrayPath(path: string): string {
  if (typeof path !== "string") throw invalid(`zarrArray: option "path" must be a string, got ${show(path)}`);
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "/";
  const segments = trimmed.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw invalid(`zarrArray: option "path" ${show(path)} has an empty, "." or ".." segment`);
  }
  return `/${trimmed}`;
}
