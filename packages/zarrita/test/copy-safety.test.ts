// copy: "auto" (the default) skips the per-caller copy only where zarrita decodes into a fresh
// buffer. Every codec chain below is written by hand into a store, read through zarrita, every
// result is mutated (zarr.get output, getChunk data, a failed zarr.set's in-place update), and
// the array is read again: the bytes must be the original ones.
import zlib from "node:zlib";
import type { AbsolutePath, RangeQuery } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import * as zarr from "zarrita";
import { describe, expect, it } from "vitest";

const SHAPE = [8, 8];
const CHUNK = [4, 4];
const DATA = Float32Array.from({ length: 64 }, (_, i) => i + 0.5);

/** A writable in-memory store; every read returns a new buffer, as a remote would. */
class BytesStore {
  readonly files = new Map<string, Uint8Array>();
  failWrites = false;
  async get(path: AbsolutePath): Promise<Uint8Array | undefined> {
    return this.files.get(path)?.slice();
  }
  async getRange(path: AbsolutePath, range: RangeQuery): Promise<Uint8Array | undefined> {
    const file = this.files.get(path);
    if (file === undefined) return undefined;
    return "suffixLength" in range ? file.slice(file.length - range.suffixLength) : file.slice(range.offset, range.offset + range.length);
  }
  async set(path: AbsolutePath, value: Uint8Array): Promise<void> {
    if (this.failWrites) throw new Error("store refused the write");
    this.files.set(path, value.slice());
  }
  json(path: string, value: unknown): void {
    this.files.set(path as AbsolutePath, new TextEncoder().encode(JSON.stringify(value)));
  }
}

/** The C-ordered float32 values of chunk (ci, cj). */
function chunkValues(ci: number, cj: number, order: "C" | "F" = "C"): Float32Array {
  const out = new Float32Array(CHUNK[0]! * CHUNK[1]!);
  for (let i = 0; i < CHUNK[0]!; i++) {
    for (let j = 0; j < CHUNK[1]!; j++) {
      const at = order === "C" ? i * CHUNK[1]! + j : j * CHUNK[0]! + i;
      out[at] = DATA[(ci * CHUNK[0]! + i) * SHAPE[1]! + cj * CHUNK[1]! + j]!;
    }
  }
  return out;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function withCrc32c(bytes: Uint8Array): Uint8Array {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  const out = new Uint8Array(bytes.length + 4);
  out.set(bytes);
  new DataView(out.buffer).setUint32(bytes.length, (crc ^ 0xffffffff) >>> 0, true);
  return out;
}

const bytesOf = (values: Float32Array) => new Uint8Array(values.buffer.slice(0));
function bigEndian(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, false));
  return out;
}
function shuffled(bytes: Uint8Array, size = 4): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const count = bytes.length / size;
  for (let i = 0; i < count; i++) for (let b = 0; b < size; b++) out[b * count + i] = bytes[i * size + b]!;
  return out;
}
function delta(values: Float32Array): Float32Array {
  return values.map((v, i) => (i === 0 ? v : v - values[i - 1]!));
}

async function numcodec(kind: "blosc" | "zstd" | "lz4", bytes: Uint8Array): Promise<Uint8Array> {
  if (kind === "blosc") {
    const { default: Blosc } = await import("numcodecs/blosc");
    return Blosc.fromConfig({ id: "blosc", cname: "lz4", clevel: 5, shuffle: 1, blocksize: 0 }).encode(bytes);
  }
  if (kind === "zstd") {
    const { default: Zstd } = await import("numcodecs/zstd");
    return Zstd.fromConfig({ id: "zstd", level: 1 }).encode(bytes);
  }
  const { default: LZ4 } = await import("numcodecs/lz4");
  return LZ4.fromConfig({ id: "lz4", acceleration: 1 }).encode(bytes);
}

type Encode = (ci: number, cj: number) => Promise<Uint8Array>;

interface Chain {
  name: string;
  /** true when zarrita decodes into a fresh buffer, so "auto" may hand out the cached one. */
  fresh: boolean;
  write(store: BytesStore): Promise<void>;
  /** Chunk keys, or for a shard the inner chunks' ranges (an index read is never shared). */
  chunkReads: (store: BytesStore) => [AbsolutePath, RangeQuery | undefined][];
}

const v3Meta = (codecs: unknown[], extra: Record<string, unknown> = {}) => ({
  zarr_format: 3,
  node_type: "array",
  shape: SHAPE,
  data_type: "float32",
  chunk_grid: { name: "regular", configuration: { chunk_shape: CHUNK } },
  chunk_key_encoding: { name: "default", configuration: { separator: "/" } },
  fill_value: 0,
  codecs,
  attributes: {},
  ...extra,
});

const grid = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
] as const;

function v3Chain(name: string, fresh: boolean, codecs: unknown[], encode: Encode): Chain {
  return {
    name: `v3 ${name}`,
    fresh,
    async write(store) {
      store.json("/a/zarr.json", v3Meta(codecs));
      for (const [i, j] of grid) store.files.set(`/a/c/${i}/${j}` as AbsolutePath, await encode(i, j));
    },
    chunkReads: () => grid.map(([i, j]) => [`/a/c/${i}/${j}` as AbsolutePath, undefined]),
  };
}

function v2Chain(name: string, fresh: boolean, zarray: Record<string, unknown>, encode: Encode, separator = "."): Chain {
  return {
    name: `v2 ${name}`,
    fresh,
    async write(store) {
      store.json("/a/.zarray", {
        zarr_format: 2,
        shape: SHAPE,
        chunks: CHUNK,
        dtype: "<f4",
        fill_value: 0,
        order: "C",
        filters: null,
        compressor: null,
        dimension_separator: separator,
        ...zarray,
      });
      for (const [i, j] of grid) store.files.set(`/a/${i}${separator}${j}` as AbsolutePath, await encode(i, j));
    },
    chunkReads: () => grid.map(([i, j]) => [`/a/${i}${separator}${j}` as AbsolutePath, undefined]),
  };
}

/** One shard holding the four chunks, with or without crc32c (zarrita 0.7 reads indexes at the end only). */
function shardedChain(name: string, fresh: boolean, inner: unknown[], encode: Encode, where: "end" | "start", checksum: boolean): Chain {
  const indexCodecs = [{ name: "bytes", configuration: { endian: "little" } }, ...(checksum ? [{ name: "crc32c" }] : [])];
  const indexBytes = 16 * 4 + (checksum ? 4 : 0);
  const ranges: RangeQuery[] = [];
  return {
    name: `v3 sharded ${name}, index at the ${where}${checksum ? " + crc32c" : ""}`,
    fresh,
    async write(store) {
      store.json("/a/zarr.json", {
        ...v3Meta([
          {
            name: "sharding_indexed",
            configuration: { chunk_shape: CHUNK, codecs: inner, index_codecs: indexCodecs, index_location: where },
          },
        ]),
        chunk_grid: { name: "regular", configuration: { chunk_shape: SHAPE } },
      });
      const parts = await Promise.all(grid.map(([i, j]) => encode(i, j)));
      const index = new BigUint64Array(8);
      let offset = where === "start" ? indexBytes : 0;
      ranges.length = 0;
      parts.forEach((part, n) => {
        index[2 * n] = BigInt(offset);
        index[2 * n + 1] = BigInt(part.length);
        ranges.push({ offset, length: part.length });
        offset += part.length;
      });
      const indexEncoded = checksum ? withCrc32c(new Uint8Array(index.buffer)) : new Uint8Array(index.buffer);
      const body = Buffer.concat(parts);
      store.files.set(
        "/a/c/0/0" as AbsolutePath,
        new Uint8Array(where === "end" ? Buffer.concat([body, indexEncoded]) : Buffer.concat([indexEncoded, body])),
      );
    },
    chunkReads: () => ranges.map((range) => ["/a/c/0/0" as AbsolutePath, range]),
  };
}

const raw: Encode = async (i, j) => bytesOf(chunkValues(i, j));
const gzip: Encode = async (i, j) => zlib.gzipSync(await raw(i, j));
const deflate: Encode = async (i, j) => zlib.deflateSync(await raw(i, j));
const bytesLE = { name: "bytes", configuration: { endian: "little" } };

const CHAINS: Chain[] = [
  v3Chain("bytes (little-endian)", false, [bytesLE], raw),
  v3Chain("bytes (big-endian)", false, [{ name: "bytes", configuration: { endian: "big" } }], async (i, j) => bigEndian(chunkValues(i, j))),
  v3Chain("bytes + crc32c", false, [bytesLE, { name: "crc32c" }], async (i, j) => withCrc32c(await raw(i, j))),
  v3Chain("transpose + bytes", false, [{ name: "transpose", configuration: { order: [1, 0] } }, bytesLE], async (i, j) =>
    bytesOf(chunkValues(i, j, "F")),
  ),
  v3Chain("bytes + gzip", true, [bytesLE, { name: "gzip", configuration: { level: 5 } }], gzip),
  v3Chain("bytes + zlib", true, [bytesLE, { name: "zlib", configuration: { level: 5 } }], deflate),
  v3Chain("bytes + gzip + crc32c", true, [bytesLE, { name: "gzip", configuration: { level: 5 } }, { name: "crc32c" }], async (i, j) =>
    withCrc32c(await gzip(i, j)),
  ),
  v3Chain(
    "transpose + bytes (big-endian) + zstd",
    true,
    [
      { name: "transpose", configuration: { order: [1, 0] } },
      { name: "bytes", configuration: { endian: "big" } },
      { name: "zstd", configuration: { level: 1, checksum: false } },
    ],
    async (i, j) => numcodec("zstd", bigEndian(chunkValues(i, j, "F"))),
  ),
  v3Chain(
    "bytes + blosc",
    true,
    [bytesLE, { name: "blosc", configuration: { cname: "lz4", clevel: 5, shuffle: "shuffle", typesize: 4, blocksize: 0 } }],
    async (i, j) => numcodec("blosc", await raw(i, j)),
  ),
  v2Chain("no compressor", false, {}, raw),
  v2Chain("no compressor, '/' separator", false, {}, raw, "/"),
  v2Chain("big-endian, no compressor", false, { dtype: ">f4" }, async (i, j) => bigEndian(chunkValues(i, j))),
  v2Chain("delta filter, no compressor", false, { filters: [{ id: "delta", dtype: "<f4" }] }, async (i, j) =>
    bytesOf(delta(chunkValues(i, j))),
  ),
  v2Chain("shuffle filter, no compressor", false, { filters: [{ id: "shuffle", elementsize: 4 }] }, async (i, j) =>
    shuffled(await raw(i, j)),
  ),
  v2Chain("order F, no compressor", false, { order: "F" }, async (i, j) => bytesOf(chunkValues(i, j, "F"))),
  v2Chain("zlib", true, { compressor: { id: "zlib", level: 5 } }, deflate),
  v2Chain("gzip", true, { compressor: { id: "gzip", level: 5 } }, gzip),
  v2Chain(
    "delta + shuffle filters, zlib",
    true,
    {
      filters: [
        { id: "delta", dtype: "<f4" },
        { id: "shuffle", elementsize: 4 },
      ],
      compressor: { id: "zlib", level: 1 },
    },
    async (i, j) => zlib.deflateSync(shuffled(bytesOf(delta(chunkValues(i, j))))),
  ),
  v2Chain("blosc", true, { compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1, blocksize: 0 } }, async (i, j) =>
    numcodec("blosc", await raw(i, j)),
  ),
  v2Chain("zstd", true, { compressor: { id: "zstd", level: 1 } }, async (i, j) => numcodec("zstd", await raw(i, j))),
  v2Chain("lz4", true, { compressor: { id: "lz4", acceleration: 1 } }, async (i, j) => numcodec("lz4", await raw(i, j))),
  shardedChain("bytes", false, [bytesLE], raw, "end", false),
  shardedChain("bytes", false, [bytesLE], raw, "end", true),
  shardedChain("bytes + gzip", true, [bytesLE, { name: "gzip", configuration: { level: 5 } }], gzip, "end", true),
  shardedChain(
    "bytes + zstd",
    true,
    [bytesLE, { name: "zstd", configuration: { level: 1, checksum: false } }],
    async (i, j) => numcodec("zstd", await raw(i, j)),
    "end",
    false,
  ),
];

const newCache = () =>
  createCache()
    .tier(memory({ maxBytes: 1 << 24 }))
    .build();
const read = (store: BytesStore, path: AbsolutePath, range: RangeQuery | undefined) =>
  range === undefined ? store.get(path) : store.getRange(path, range);

async function readAll(arr: zarr.Array<zarr.DataType, BytesStore>): Promise<Float32Array> {
  return (await zarr.get(arr, null)).data as Float32Array;
}

describe('copy: "auto" keeps every codec chain safe', () => {
  for (const chain of CHAINS) {
    it(`${chain.name}: mutating every result never changes a later read`, async () => {
      const upstream = new BytesStore();
      await chain.write(upstream);
      const store = withCache(upstream, newCache(), { namespace: "copy-safety" });
      const arr = (await zarr.open(zarr.root(store).resolve("a"), { kind: "array" })) as zarr.Array<zarr.DataType, BytesStore>;
      // The oracle: zarrita on the bare store, which hands out a new buffer on every read.
      const bare = (await zarr.open(zarr.root(upstream).resolve("a"), { kind: "array" })) as zarr.Array<zarr.DataType, BytesStore>;
      const expected = Array.from(await readAll(bare));
      expect([...expected].sort((a, b) => a - b)).toEqual(Array.from(DATA));
      const expectedChunks = await Promise.all(grid.map(async ([i, j]) => Array.from((await bare.getChunk([i, j])).data as Float32Array)));
      for (let round = 0; round < 3; round++) {
        const all = await readAll(arr);
        expect(Array.from(all)).toEqual(expected);
        all.fill(-1);
        for (const [n, [i, j]] of grid.entries()) {
          const chunk = await arr.getChunk([i, j]);
          expect(Array.from(chunk.data as Float32Array)).toEqual(expectedChunks[n]);
          (chunk.data as Float32Array).fill(-2);
        }
      }
      expect(Array.from(await readAll(arr))).toEqual(expected);
    });

    it(`${chain.name}: ${chain.fresh ? "hands out the cached chunk bytes without a copy" : "hands every caller a copy"}`, async () => {
      const upstream = new BytesStore();
      await chain.write(upstream);
      const store = withCache(upstream, newCache(), { namespace: "copy-safety" });
      await zarr.open(zarr.root(store).resolve("a"), { kind: "array" });
      for (const [path, range] of chain.chunkReads(upstream)) {
        await read(store, path, range); // the miss (a tier may keep its own copy of what it stores)
        const first = await read(store, path, range);
        const second = await read(store, path, range);
        expect(second).toEqual(first);
        if (chain.fresh) expect(second).toBe(first);
        else expect(second).not.toBe(first);
      }
      // Metadata is always copied.
      const metaPath = (upstream.files.has("/a/zarr.json" as AbsolutePath) ? "/a/zarr.json" : "/a/.zarray") as AbsolutePath;
      expect(await store.get(metaPath)).not.toBe(await store.get(metaPath));
    });
  }

  it("a shard's index is copied even when its chunks are not", async () => {
    const upstream = new BytesStore();
    const chain = CHAINS.find((c) => c.name.includes("sharded bytes + gzip"))!;
    await chain.write(upstream);
    const store = withCache(upstream, newCache(), { namespace: "copy-safety" });
    await zarr.open(zarr.root(store).resolve("a"), { kind: "array" });
    const index = { suffixLength: 16 * 4 + 4 };
    await store.getRange("/a/c/0/0", index);
    expect(await store.getRange("/a/c/0/0", index)).not.toBe(await store.getRange("/a/c/0/0", index));
  });

  it("a zarr.set that mutates a cached chunk in place and then fails leaves the cache intact", async () => {
    const upstream = new BytesStore();
    await CHAINS[0]!.write(upstream);
    const store = withCache(upstream, newCache(), { namespace: "copy-safety" });
    const arr = (await zarr.open(zarr.root(store).resolve("a"), { kind: "array" })) as zarr.Array<"float32", BytesStore>;
    expect(Array.from(await readAll(arr))).toEqual(Array.from(DATA));
    upstream.failWrites = true;
    await expect(zarr.set(arr, [zarr.slice(0, 2), zarr.slice(0, 2)], 99)).rejects.toThrow("store refused the write");
    expect(Array.from(await readAll(arr))).toEqual(Array.from(DATA));
  });

  it("chunks of arrays this store has not seen the metadata of are copied", async () => {
    const upstream = new BytesStore();
    await CHAINS.find((c) => c.name === "v3 bytes + gzip")!.write(upstream);
    const store = withCache(upstream, newCache(), { namespace: "copy-safety" });
    expect(await store.get("/a/c/0/0")).not.toBe(await store.get("/a/c/0/0"));
  });

  it("an array once seen with an uncompressed chain keeps the copy after its metadata changes", async () => {
    const upstream = new BytesStore();
    await CHAINS[0]!.write(upstream);
    const store = withCache(upstream, newCache(), { namespace: "copy-safety" });
    await zarr.open(zarr.root(store).resolve("a"), { kind: "array" });
    await store.set(
      "/a/zarr.json",
      new TextEncoder().encode(JSON.stringify(v3Meta([bytesLE, { name: "gzip", configuration: { level: 5 } }]))),
    );
    await store.set("/a/c/0/0", zlib.gzipSync(await raw(0, 0)));
    await store.get("/a/c/0/0");
    expect(await store.get("/a/c/0/0")).not.toBe(await store.get("/a/c/0/0"));
  });

  it("copy: true copies compressed chunks too; copy: false never copies", async () => {
    const upstream = new BytesStore();
    await CHAINS.find((c) => c.name === "v3 bytes + gzip")!.write(upstream);
    const always = withCache(upstream, newCache(), { namespace: "copy-safety", copy: true });
    await zarr.open(zarr.root(always).resolve("a"), { kind: "array" });
    await always.get("/a/c/0/0");
    expect(await always.get("/a/c/0/0")).not.toBe(await always.get("/a/c/0/0"));
    const never = withCache(upstream, newCache(), { namespace: "copy-safety", copy: false });
    await never.get("/a/zarr.json");
    expect(await never.get("/a/zarr.json")).toBe(await never.get("/a/zarr.json"));
  });

  it("learns arrays from consolidated metadata (v2 .zmetadata, v3 consolidated_metadata)", async () => {
    const v2 = new BytesStore();
    await CHAINS.find((c) => c.name === "v2 zlib")!.write(v2);
    v2.json("/.zmetadata", {
      zarr_consolidated_format: 1,
      metadata: {
        ".zgroup": { zarr_format: 2 },
        "a/.zarray": JSON.parse(new TextDecoder().decode(v2.files.get("/a/.zarray" as AbsolutePath))),
      },
    });
    const store2 = withCache(v2, newCache(), { namespace: "copy-safety" });
    await store2.get("/.zmetadata");
    await store2.get("/a/0.0");
    expect(await store2.get("/a/0.0")).toBe(await store2.get("/a/0.0"));

    const v3 = new BytesStore();
    await CHAINS.find((c) => c.name === "v3 bytes + gzip")!.write(v3);
    const arrayMeta = JSON.parse(new TextDecoder().decode(v3.files.get("/a/zarr.json" as AbsolutePath)));
    v3.json("/zarr.json", {
      zarr_format: 3,
      node_type: "group",
      attributes: {},
      consolidated_metadata: { kind: "inline", must_understand: false, metadata: { a: arrayMeta } },
    });
    const store3 = withCache(v3, newCache(), { namespace: "copy-safety" });
    const arr = await zarr.open((await zarr.withConsolidatedMetadata(store3)) as never, { kind: "group" });
    expect(arr.kind).toBe("group");
    await store3.get("/a/c/0/0");
    expect(await store3.get("/a/c/0/0")).toBe(await store3.get("/a/c/0/0"));
  });
});
