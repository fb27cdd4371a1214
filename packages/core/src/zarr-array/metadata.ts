import { invalid, isIndex, isRecord, show, unsupported } from "./errors.js";

/** The character between the parts of a chunk key. */
export type ChunkKeySeparator = "/" | ".";

/**
 * How grid coordinates become a store key: `default` gives `c/1/2` (or `c.1.2`, and `c` for a
 * 0-d array), `v2` gives `1.2` (or `1/2`, and `0` for a 0-d array).
 */
export interface ChunkKeyEncoding {
  readonly name: "default" | "v2";
  readonly separator: ChunkKeySeparator;
}

/** The layout of a `sharding_indexed` array: each stored key is a shard holding a grid of inner chunks. */
export interface ShardingLayout {
  /** The inner chunks' shape (zarrita's `arr.chunks` for a sharded array). */
  readonly chunkShape: readonly number[];
  /** Where the shard index sits in a shard; "end" when the metadata does not say. */
  readonly indexLocation: "start" | "end";
  /** Byte order of the index's uint64 (offset, length) pairs. */
  readonly indexEndian: "little" | "big";
  /** True when the index codecs end with `crc32c` (4 checksum bytes after the pairs). */
  readonly indexChecksum: boolean;
}

/** What the array model needs from zarr metadata, normalised across v2 and v3. */
export interface ZarrArrayMetadata {
  readonly zarrFormat: 2 | 3;
  /** The array's shape; [] for a 0-d array. */
  readonly shape: readonly number[];
  /** The regular grid's cell shape: the chunk shape, or the shard shape when sharded. */
  readonly chunkShape: readonly number[];
  readonly chunkKeyEncoding: ChunkKeyEncoding;
  /** Present when the array's codecs start with `sharding_indexed`. */
  readonly sharding?: ShardingLayout;
}

/** `.zarray` or `zarr.json` content: UTF-8 JSON bytes, JSON text, or the parsed object. */
export type ArrayMetadataInput = Uint8Array | string | Readonly<Record<string, unknown>>;

/**
 * Parses v2 `.zarray` or v3 `zarr.json` array metadata (chosen by its `zarr_format`).
 * Reads only what decides keys and byte ranges: shape, the chunk grid, the chunk key encoding
 * and the sharding layout. Throws a ZarrsCacheError: INVALID_ARGUMENT for malformed metadata,
 * UNSUPPORTED for valid metadata this model cannot place on a grid (a non-regular chunk grid,
 * an unknown key encoding, index codecs other than `bytes` and `crc32c`).
 */
export function parseArrayMetadata(input: ArrayMetadataInput, options: { path?: string } = {}): ZarrArrayMetadata {
  const doc = decode(input);
  const where = options.path === undefined ? "" : ` of array ${options.path}`;
  if (doc.zarr_format === 2) return parseV2(doc, `.zarray${where}`);
  if (doc.zarr_format === 3) return parseV3(doc, `zarr.json${where}`);
  throw invalid(`array metadata${where}: "zarr_format" must be 2 or 3, got ${show(doc.zarr_format)}`);
}

function decode(input: ArrayMetadataInput): Record<string, unknown> {
  let doc: unknown = input;
  if (input instanceof Uint8Array || typeof input === "string") {
    const text = typeof input === "string" ? input : new TextDecoder().decode(input);
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw invalid(`array metadata is not valid JSON: ${(error as Error).message}`, error);
    }
  }
  if (!isRecord(doc)) throw invalid(`array metadata must be a JSON object, got ${show(doc)}`);
  return doc;
}

function parseV2(doc: Record<string, unknown>, what: string): ZarrArrayMetadata {
  if (doc.shape === undefined) throw invalid(`${what}: no "shape" (a .zgroup is not an array)`);
  const shape = dimensions(doc.shape, `${what}: "shape"`, 0);
  const chunkShape = dimensions(doc.chunks, `${what}: "chunks"`, 1, shape.length);
  const separator = doc.dimension_separator ?? ".";
  if (separator !== "." && separator !== "/") {
    throw invalid(`${what}: "dimension_separator" must be "." or "/", got ${show(separator)}`);
  }
  return { zarrFormat: 2, shape, chunkShape, chunkKeyEncoding: { name: "v2", separator } };
}

function parseV3(doc: Record<string, unknown>, what: string): ZarrArrayMetadata {
  if (doc.node_type !== "array") {
    throw invalid(`${what}: "node_type" is ${show(doc.node_type)}, not "array"`);
  }
  const shape = dimensions(doc.shape, `${what}: "shape"`, 0);
  const grid = doc.chunk_grid;
  if (!isRecord(grid)) throw invalid(`${what}: "chunk_grid" must be an object, got ${show(grid)}`);
  if (grid.name !== "regular") {
    throw unsupported(`${what}: chunk grid ${show(grid.name)} is not supported; only "regular" grids can be placed`);
  }
  const gridConfig = isRecord(grid.configuration) ? grid.configuration : {};
  const chunkShape = dimensions(gridConfig.chunk_shape, `${what}: "chunk_grid.configuration.chunk_shape"`, 1, shape.length);
  const chunkKeyEncoding = keyEncoding(doc.chunk_key_encoding, what);
  if (!Array.isArray(doc.codecs)) throw invalid(`${what}: "codecs" must be an array, got ${show(doc.codecs)}`);
  const codecs = doc.codecs.map((codec, i) => namedConfig(codec, `${what}: "codecs[${i}]"`));
  const at = codecs.findIndex((codec) => codec.name === "sharding_indexed");
  if (at === -1) return { zarrFormat: 3, shape, chunkShape, chunkKeyEncoding };
  if (at > 0) {
    throw unsupported(`${what}: codec ${show(codecs[0]!.name)} before "sharding_indexed" reorders the shard's inner grid; not supported`);
  }
  if (at < codecs.length - 1) {
    const next = show(codecs[at + 1]!.name);
    throw unsupported(`${what}: codec ${next} after "sharding_indexed" transforms whole shards; inner chunks cannot be read by range`);
  }
  const sharding = shardingLayout(codecs[at]!.configuration, chunkShape, `${what}: sharding_indexed`);
  return { zarrFormat: 3, shape, chunkShape, chunkKeyEncoding, sharding };
}

function keyEncoding(value: unknown, what: string): ChunkKeyEncoding {
  if (!isRecord(value)) throw invalid(`${what}: "chunk_key_encoding" must be an object, got ${show(value)}`);
  const { name } = value;
  if (name !== "default" && name !== "v2") {
    throw unsupported(`${what}: chunk key encoding ${show(name)} is not supported (known: "default", "v2")`);
  }
  const config = isRecord(value.configuration) ? value.configuration : {};
  const separator = config.separator ?? (name === "default" ? "/" : ".");
  if (separator !== "/" && separator !== ".") {
    throw invalid(`${what}: "chunk_key_encoding.configuration.separator" must be "/" or ".", got ${show(separator)}`);
  }
  return { name, separator };
}

function shardingLayout(config: Record<string, unknown>, shardShape: readonly number[], what: string): ShardingLayout {
  const chunkShape = dimensions(config.chunk_shape, `${what}: "chunk_shape"`, 1, shardShape.length);
  chunkShape.forEach((inner, i) => {
    if (shardShape[i]! % inner !== 0) {
      throw invalid(`${what}: inner "chunk_shape" ${show(chunkShape)} must divide the shard shape ${show(shardShape)} (dimension ${i})`);
    }
  });
  if (!Array.isArray(config.codecs)) throw invalid(`${what}: "codecs" must be an array, got ${show(config.codecs)}`);
  const indexLocation = config.index_location ?? "end";
  if (indexLocation !== "start" && indexLocation !== "end") {
    throw invalid(`${what}: "index_location" must be "start" or "end", got ${show(indexLocation)}`);
  }
  if (!Array.isArray(config.index_codecs)) {
    throw invalid(`${what}: "index_codecs" must be an array, got ${show(config.index_codecs)}`);
  }
  const indexCodecs = config.index_codecs.map((codec, i) => namedConfig(codec, `${what}: "index_codecs[${i}]"`));
  const [bytes, checksum, ...rest] = indexCodecs;
  if (bytes?.name !== "bytes") {
    throw unsupported(`${what}: "index_codecs" must start with "bytes", got ${show(bytes?.name)}`);
  }
  if ((checksum !== undefined && checksum.name !== "crc32c") || rest.length > 0) {
    const other = checksum?.name === "crc32c" ? rest[0]!.name : checksum!.name;
    throw unsupported(`${what}: index codec ${show(other)} is not supported; index codecs are "bytes", optionally followed by "crc32c"`);
  }
  const indexEndian = bytes.configuration.endian ?? "little";
  if (indexEndian !== "little" && indexEndian !== "big") {
    throw invalid(`${what}: index "bytes" codec "endian" must be "little" or "big", got ${show(indexEndian)}`);
  }
  return { chunkShape, indexLocation, indexEndian, indexChecksum: checksum !== undefined };
}

/** A codec entry: `{ name, configuration? }`, or the short form `"name"`. */
function namedConfig(codec: unknown, what: string): { name: string; configuration: Record<string, unknown> } {
  if (typeof codec === "string") return { name: codec, configuration: {} };
  if (!isRecord(codec) || typeof codec.name !== "string") {
    throw invalid(`${what} must be a codec object with a "name", got ${show(codec)}`);
  }
  const { configuration } = codec;
  if (configuration !== undefined && !isRecord(configuration)) {
    throw invalid(`${what}: "configuration" must be an object, got ${show(configuration)}`);
  }
  return { name: codec.name, configuration: configuration ?? {} };
}

function dimensions(value: unknown, what: string, min: 0 | 1, rank?: number): number[] {
  if (!Array.isArray(value)) throw invalid(`${what} must be an array of integers, got ${show(value)}`);
  if (rank !== undefined && value.length !== rank) {
    throw invalid(`${what} has ${value.length} dimensions, the array's shape has ${rank}`);
  }
  for (const n of value) {
    if (!isIndex(n) || n < min) {
      throw invalid(`${what} must hold ${min === 0 ? "non-negative" : "positive"} integers, got ${show(value)}`);
    }
  }
  return [...value] as number[];
}

/**
 * Checks an already normalised `ZarrArrayMetadata` (built by hand or sent across a worker
 * boundary) and returns a copy; throws INVALID_ARGUMENT naming the bad field.
 */
export function checkArrayMetadata(meta: ZarrArrayMetadata): ZarrArrayMetadata {
  const what = "array metadata";
  if (meta.zarrFormat !== 2 && meta.zarrFormat !== 3) throw invalid(`${what}: "zarrFormat" must be 2 or 3, got ${show(meta.zarrFormat)}`);
  const shape = dimensions(meta.shape, `${what}: "shape"`, 0);
  const chunkShape = dimensions(meta.chunkShape, `${what}: "chunkShape"`, 1, shape.length);
  const encoding = meta.chunkKeyEncoding;
  const knownName = isRecord(encoding) && (encoding.name === "default" || encoding.name === "v2");
  if (!knownName || (encoding.separator !== "/" && encoding.separator !== ".")) {
    throw invalid(`${what}: "chunkKeyEncoding" must be { name: "default" | "v2", separator: "/" | "." }, got ${show(encoding)}`);
  }
  const chunkKeyEncoding: ChunkKeyEncoding = { name: encoding.name, separator: encoding.separator };
  if (meta.sharding === undefined) return { zarrFormat: meta.zarrFormat, shape, chunkShape, chunkKeyEncoding };
  const s = meta.sharding;
  if (!isRecord(s)) throw invalid(`${what}: "sharding" must be an object, got ${show(s)}`);
  const inner = dimensions(s.chunkShape, `${what}: "sharding.chunkShape"`, 1, shape.length);
  if (inner.some((n, d) => chunkShape[d]! % n !== 0)) {
    throw invalid(`${what}: "sharding.chunkShape" ${show(inner)} must divide the shard shape ${show(chunkShape)}`);
  }
  const location = s.indexLocation === "start" || s.indexLocation === "end";
  const endian = s.indexEndian === "little" || s.indexEndian === "big";
  if (!location || !endian || typeof s.indexChecksum !== "boolean") {
    throw invalid(
      `${what}: "sharding" needs indexLocation "start" | "end", indexEndian "little" | "big" and a boolean indexChecksum, got ${show(s)}`,
    );
  }
  const sharding: ShardingLayout = {
    chunkShape: inner,
    indexLocation: s.indexLocation,
    indexEndian: s.indexEndian,
    indexChecksum: s.indexChecksum,
  };
  return { zarrFormat: meta.zarrFormat, shape, chunkShape, chunkKeyEncoding, sharding };
}
