import type { RangeQuery } from "@zarrita/storage";

/**
 * Which reads may skip the per-caller copy under `copy: "auto"`: chunks of arrays whose codec
 * chain starts decoding with a compressor. zarrita only reads such bytes (the decompressor
 * writes into a buffer of its own), so the cached buffer never reaches code that could write to
 * it. Uncompressed chains (`bytes`, endian swaps, crc32c, v2 without a compressor) hand zarrita
 * a view of its input that `arr.getChunk()` returns and `zarr.set` mutates: those are copied,
 * as are metadata, shard indexes and everything this store has not seen the metadata of.
 */

/** Decoders that allocate their output and leave their input as it was. */
const FRESH_DECODERS = new Set(["gzip", "zlib", "blosc", "lz4", "zstd"]);
/** bytes-to-bytes decoders that return a read-only view of their input (a checksum suffix). */
const VIEW_ONLY_DECODERS = new Set(["crc32c"]);

interface ArrayRule {
  /** Chunk keys relative to the array ("c/0/1", "0.1"). */
  chunkKey: RegExp;
  /** Chunk bytes decode into a fresh buffer (whole chunks, or a shard's inner chunks). */
  fresh: boolean;
  /** Set for sharded arrays: where the index lives and its size in bytes. */
  index?: { atEnd: boolean; bytes: number };
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === "object" && !Array.isArray(value);
const codecName = (codec: unknown): string => {
  const name = isObject(codec) ? codec.name : undefined;
  return typeof name === "string" ? name.replace(/^numcodecs\./, "") : "";
};

/** True when decoding `codecs` (a v3 list, applied last to first) starts with a compressor. */
function decodesFresh(codecs: unknown): boolean {
  if (!Array.isArray(codecs)) return false;
  for (let i = codecs.length - 1; i >= 0; i--) {
    const name = codecName(codecs[i]);
    if (FRESH_DECODERS.has(name)) return true;
    if (!VIEW_ONLY_DECODERS.has(name)) return false;
  }
  return false;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function v3Rule(meta: Json): ArrayRule | undefined {
  const encoding = isObject(meta.chunk_key_encoding) ? meta.chunk_key_encoding : { name: "default" };
  const configured = isObject(encoding.configuration) ? encoding.configuration.separator : undefined;
  const separator = typeof configured === "string" ? configured : encoding.name === "v2" ? "." : "/";
  const sep = escape(separator);
  const chunkKey = encoding.name === "v2" ? new RegExp(`^\\d+(?:${sep}\\d+)*$`) : new RegExp(`^c(?:${sep}\\d+)*$`);
  const codecs = Array.isArray(meta.codecs) ? meta.codecs : [];
  const last = codecs[codecs.length - 1];
  if (codecs.length === 1 && codecName(last) === "sharding_indexed" && isObject(last) && isObject(last.configuration)) {
    const config = last.configuration;
    const outer =
      isObject(meta.chunk_grid) && isObject(meta.chunk_grid.configuration) ? meta.chunk_grid.configuration.chunk_shape : undefined;
    const inner = config.chunk_shape;
    if (!Array.isArray(outer) || !Array.isArray(inner) || outer.length !== inner.length) return undefined;
    const count = outer.reduce((n: number, d, i) => n * (Number(d) / Number(inner[i])), 1);
    const indexCodecs = Array.isArray(config.index_codecs) ? config.index_codecs : [];
    const checksum = indexCodecs.some((c) => codecName(c) === "crc32c") ? 4 : 0;
    // Nested sharding would hand inner shards' indexes around as "chunks": copy everything.
    const nested = Array.isArray(config.codecs) && config.codecs.some((c) => codecName(c) === "sharding_indexed");
    return {
      chunkKey,
      fresh: !nested && decodesFresh(config.codecs),
      index: { atEnd: config.index_location !== "start", bytes: 16 * count + checksum },
    };
  }
  return { chunkKey, fresh: decodesFresh(codecs) };
}

function v2Rule(meta: Json): ArrayRule {
  const separator = typeof meta.dimension_separator === "string" ? meta.dimension_separator : ".";
  const compressor = isObject(meta.compressor) && typeof meta.compressor.id === "string" ? meta.compressor.id : "";
  return { chunkKey: new RegExp(`^\\d+(?:${escape(separator)}\\d+)*$`), fresh: FRESH_DECODERS.has(compressor) };
}

export class CopyPolicy {
  private readonly arrays = new Map<string, ArrayRule>();
  /** Arrays once seen with a chain that needs the copy keep it (an old zarrita array may still use it). */
  private readonly unsafe = new Set<string>();
  private readonly seen = new WeakSet<Uint8Array>();

  /** Learns from metadata bytes this store handed out or wrote; ignores anything else. */
  observe(path: string, bytes: Uint8Array | undefined): void {
    // Chunk keys end in a digit or "c": one character test keeps chunk hits cheap.
    const last = path.charCodeAt(path.length - 1);
    if (bytes === undefined || (last !== 110 && last !== 121 && last !== 97) || this.seen.has(bytes)) return;
    const slash = path.lastIndexOf("/");
    const name = path.slice(slash + 1);
    if (name !== "zarr.json" && name !== ".zarray" && name !== ".zmetadata") return;
    this.seen.add(bytes);
    let meta: unknown;
    try {
      meta = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      meta = undefined;
    }
    const dir = path.slice(0, Math.max(slash, 0));
    if (name === ".zmetadata") {
      this.observeConsolidated(dir, meta, true);
      return;
    }
    if (name === "zarr.json" && isObject(meta) && isObject(meta.consolidated_metadata))
      this.observeConsolidated(dir, meta.consolidated_metadata, false);
    this.learn(dir, meta, name === ".zarray");
  }

  private observeConsolidated(dir: string, consolidated: unknown, v2: boolean): void {
    const entries = isObject(consolidated) && isObject(consolidated.metadata) ? consolidated.metadata : {};
    for (const [key, meta] of Object.entries(entries)) {
      if (v2 && !key.endsWith(".zarray")) continue;
      const rel = v2 ? key.slice(0, -".zarray".length).replace(/\/$/, "") : key;
      this.learn(rel === "" ? dir : `${dir}/${rel.replace(/^\//, "")}`, meta, v2);
    }
  }

  private learn(dir: string, meta: unknown, v2: boolean): void {
    const isArray = isObject(meta) && (v2 ? meta.zarr_format === 2 : meta.node_type === "array");
    const rule = isArray ? (v2 ? v2Rule(meta) : v3Rule(meta)) : undefined;
    if (rule === undefined || !rule.fresh) this.unsafe.add(dir);
    if (rule === undefined) this.arrays.delete(dir);
    else this.arrays.set(dir, rule);
  }

  /** Whether a read of `path` (and `range`) must hand each caller its own copy. */
  needsCopy(path: string, range: RangeQuery | undefined): boolean {
    if (this.arrays.size === 0) return true;
    const found = this.arrayOf(path);
    if (found === undefined) return true;
    const [dir, rule] = found;
    if (!rule.fresh || this.unsafe.has(dir)) return true;
    if (rule.index === undefined) return range !== undefined;
    // A shard: its index is read by suffix (index at the end) or at offset 0 (at the start).
    if (range === undefined || "suffixLength" in range) return true;
    return !rule.index.atEnd && range.offset === 0;
  }

  /** The array a chunk path belongs to: `<dir>/c/...` (v3 default) or `<dir>/0.1`, `<dir>/0/1`. */
  private arrayOf(path: string): [string, ArrayRule] | undefined {
    for (let end = path.lastIndexOf("/"); end >= 0; end = path.lastIndexOf("/", end - 1)) {
      const dir = path.slice(0, end);
      const rule = this.arrays.get(dir);
      if (rule !== undefined) return rule.chunkKey.test(path.slice(end + 1)) ? [dir, rule] : undefined;
      if (end === 0) break;
    }
    return undefined;
  }
}
