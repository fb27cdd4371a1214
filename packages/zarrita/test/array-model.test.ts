// The core zarr array model against real zarrita: arrays written with zarrita (and shards written by
// hand), read back through a store that records every request; the model must predict exactly those.
import { type ArraySelection, crc32c, type RangeRequest, type ReadRequest, type ZarrArray, zarrArray } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";
import * as zarr from "zarrita";

/** An in-memory store with range reads that logs every read zarrita makes. */
class RecordingStore {
  readonly data = new Map<string, Uint8Array>();
  readonly log: ReadRequest[] = [];

  get(path: string): Uint8Array | undefined {
    this.log.push({ path });
    return this.data.get(path);
  }

  getRange(path: string, range: RangeRequest): Uint8Array | undefined {
    this.log.push({ path, range: { ...range } });
    const bytes = this.data.get(path);
    if (!bytes) return undefined;
    if ("suffixLength" in range) return bytes.subarray(Math.max(0, bytes.length - range.suffixLength));
    return bytes.subarray(range.offset, range.offset + range.length);
  }

  set(path: string, value: Uint8Array): void {
    this.data.set(path, value.slice());
  }

  /** Chunk keys written so far (everything that is not metadata). */
  chunkKeys(): string[] {
    return [...this.data.keys()].filter((k) => !/(zarr\.json|\.zarray|\.zattrs|\.zgroup)$/.test(k)).sort();
  }
}

const V2_FIELDS = { zarr_format: 2, dtype: "<i4", compressor: null, fill_value: 0, filters: null, order: "C" };
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const sortedKeys = (requests: readonly ReadRequest[]) => requests.map((r) => JSON.stringify([r.path, r.range ?? null])).sort();
const range = (n: number, f: (i: number) => number = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

/** int32 values that tell every element apart (7·i + 1 for the i-th element in C order). */
function values(shape: number[]): Int32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  return Int32Array.from(range(size, (i) => i * 7 + 1));
}

/** The gets zarrita makes for `selection` of an unsharded array, as the model predicts them. */
function predictedGets(model: ZarrArray, selection: ArraySelection): ReadRequest[] {
  return [...model.chunkGrid.cells(model.selectionRegion(selection))].map((c) => model.chunkRequest(c)!);
}

async function openRecorded(store: RecordingStore, path: string, version: "v2" | "v3") {
  const location = zarr.root(store).resolve(path);
  const arr = version === "v2" ? await zarr.open.v2(location, { kind: "array" }) : await zarr.open.v3(location, { kind: "array" });
  store.log.length = 0;
  return arr;
}

/** zarrita's own selection type: the model takes these as they are. */
type Selection = (number | zarr.Slice | null)[] | null;

const SELECTIONS: Selection[] = [
  null,
  [0, null],
  [-1, zarr.slice(2, 5)],
  [zarr.slice(3, 9), zarr.slice(null, null, 2)],
  [zarr.slice(1, 10, 4), 5],
  [zarr.slice(0, 8, 5), zarr.slice(0, 7, 6)], // the step skips chunk column 1, zarrita still reads it
  [zarr.slice(0, 10, 5), null], // rows 0 and 5, yet zarrita reads every row chunk up to the stop
  [zarr.slice(-3, null), zarr.slice(-100, 100)],
];

describe("the zarr array model predicts zarrita's keys (unsharded)", () => {
  const shape = [10, 7];
  const chunkShape = [4, 3]; // edge chunks on both axes: grid [3, 3]

  async function checkArray(store: RecordingStore, path: string, version: "v2" | "v3", metaKey: string) {
    const model = zarrArray(store.data.get(`${path}/${metaKey}`)!, { path });
    expect(model.keyGrid.shape).toEqual([3, 3]);
    const arr = await openRecorded(store, path, version);
    expect(arr.chunks).toEqual(model.chunkGrid.cellShape);
    // zarrita wrote every chunk of the grid, under exactly the model's keys.
    expect(store.chunkKeys()).toEqual([...model.keyGrid.cells()].map((c) => model.key(c)).sort());
    for (const key of store.chunkKeys()) expect(model.key(model.parseKey(key)!)).toBe(key);
    for (const selection of SELECTIONS) {
      store.log.length = 0;
      await zarr.get(arr, selection);
      expect(sortedKeys(store.log), JSON.stringify(selection)).toEqual(sortedKeys(predictedGets(model, selection)));
    }
    // What zarrita reads back is what it wrote.
    const all = await zarr.get(arr);
    expect(Array.from(all.data as Int32Array)).toEqual(Array.from(values(shape)));
    return model;
  }

  async function writeAll(store: RecordingStore, path: string, version: "v2" | "v3") {
    const arr = await openRecorded(store, path, version);
    await zarr.set(arr as zarr.Array<"int32", RecordingStore>, null, { data: values(shape), shape, stride: [7, 1] });
  }

  for (const separator of ["/", "."] as const) {
    it(`v3 default encoding with "${separator}" (c${separator}1${separator}2)`, async () => {
      const store = new RecordingStore();
      await zarr.create(zarr.root(store).resolve("g/temp"), { shape, chunkShape, dtype: "int32", chunkSeparator: separator });
      await writeAll(store, "/g/temp", "v3");
      const model = await checkArray(store, "/g/temp", "v3", "zarr.json");
      expect(model.key([2, 1])).toBe(`/g/temp/c${separator}2${separator}1`);
    });

    it(`v3 with the v2 key encoding and "${separator}" (1${separator}2)`, async () => {
      const store = new RecordingStore();
      store.set(
        "/temp/zarr.json",
        json({
          zarr_format: 3,
          node_type: "array",
          shape,
          data_type: "int32",
          chunk_grid: { name: "regular", configuration: { chunk_shape: chunkShape } },
          chunk_key_encoding: { name: "v2", configuration: { separator } },
          codecs: [{ name: "bytes", configuration: { endian: "little" } }],
          fill_value: 0,
          attributes: {},
        }),
      );
      await writeAll(store, "/temp", "v3");
      const model = await checkArray(store, "/temp", "v3", "zarr.json");
      expect(model.key([2, 1])).toBe(`/temp/2${separator}1`);
    });

    it(`v2 .zarray with dimension_separator "${separator}"`, async () => {
      const store = new RecordingStore();
      const zarray = { ...V2_FIELDS, shape, chunks: chunkShape };
      store.set("/old/.zarray", json(separator === "." ? zarray : { ...zarray, dimension_separator: separator }));
      await writeAll(store, "/old", "v2");
      const model = await checkArray(store, "/old", "v2", ".zarray");
      expect(model.key([2, 1])).toBe(`/old/2${separator}1`);
    });
  }

  it("0-d arrays: one chunk, key c (v3) or 0 (v2)", async () => {
    const store = new RecordingStore();
    const v3 = await zarr.create(zarr.root(store).resolve("s3"), { shape: [], chunkShape: [], dtype: "int32" });
    await zarr.set(v3, null, 42);
    store.set("/s2/.zarray", json({ ...V2_FIELDS, shape: [], chunks: [] }));
    await zarr.set(await zarr.open.v2(zarr.root(store).resolve("s2"), { kind: "array" }), null, 7);
    expect(store.chunkKeys()).toEqual(["/s2/0", "/s3/c"]);
    for (const [path, meta, version, expected] of [
      ["/s3", "zarr.json", "v3", 42],
      ["/s2", ".zarray", "v2", 7],
    ] as const) {
      const model = zarrArray(store.data.get(`${path}/${meta}`)!, { path });
      expect(model.keyGrid.size).toBe(1);
      const arr = await openRecorded(store, path, version);
      expect(await zarr.get(arr)).toBe(expected);
      expect(sortedKeys(store.log)).toEqual(sortedKeys(predictedGets(model, null)));
      expect(model.parseKey(store.chunkKeys().find((k) => k.startsWith(path))!)).toEqual([]);
    }
  });

  it("a selection shorter than the array: the model pads it with full slices, zarrita 0.7 reads off-grid keys", async () => {
    // A tripwire: zarrita 0.7 builds keys with too few coordinates ("/a/c/1" for a 2-d array) and
    // so reads fill values. The model selects what NumPy would; if zarrita changes, this test says so.
    const store = new RecordingStore();
    const arr = await zarr.create(zarr.root(store).resolve("a"), { shape, chunkShape, dtype: "int32" });
    const model = zarrArray(store.data.get("/a/zarr.json")!, { path: "/a" });
    store.log.length = 0;
    await zarr.get(arr, [zarr.slice(-3, null)]);
    expect(sortedKeys(store.log)).toEqual(sortedKeys([{ path: "/a/c/1" }, { path: "/a/c/2" }]));
    expect(store.log.every((r) => model.parseKey(r.path) === undefined)).toBe(true);
    expect(model.selectionRegion([zarr.slice(-3, null)])).toEqual(model.selectionRegion([zarr.slice(-3, null), null]));
    expect(model.selectionRegion([zarr.slice(-3, null)])).toEqual({ start: [1, 0], stop: [3, 3] });
  });

  it("an empty slice: the model selects no chunk, zarrita 0.7 throws or reads one anyway", async () => {
    const store = new RecordingStore();
    const arr = await zarr.create(zarr.root(store).resolve("a"), { shape, chunkShape, dtype: "int32" });
    const model = zarrArray(store.data.get("/a/zarr.json")!, { path: "/a" });
    store.log.length = 0;
    const empty = await zarr.get(arr, [zarr.slice(5, 5), null]);
    expect(empty.shape).toEqual([0, 7]);
    expect(sortedKeys(store.log)).toEqual(sortedKeys([0, 1, 2].map((j) => ({ path: `/a/c/1/${j}` }))));
    await expect(zarr.get(arr, [zarr.slice(5, 2), null])).rejects.toThrow(/empty iterator/);
    for (const selection of [
      [zarr.slice(5, 5), null],
      [zarr.slice(5, 2), null],
    ]) {
      expect(model.chunkGrid.count(model.selectionRegion(selection))).toBe(0);
    }
  });

  it("refuses what zarrita refuses: an index out of bounds", async () => {
    const store = new RecordingStore();
    const arr = await zarr.create(zarr.root(store).resolve("a"), { shape, chunkShape, dtype: "int32" });
    const model = zarrArray(store.data.get("/a/zarr.json")!, { path: "/a" });
    for (const selection of [
      [10, null],
      [null, -8],
    ]) {
      await expect(zarr.get(arr, selection)).rejects.toThrow(/out of bounds/);
      expect(() => model.selectionRegion(selection)).toThrow(/out of bounds/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Sharded arrays, written by hand: shape [10, 6], shards [4, 4], inner chunks [2, 2].

const SHAPE = [10, 6];
const SHARD = [4, 4];
const INNER = [2, 2];

interface ShardOptions {
  indexLocation: "start" | "end";
  endian: "little" | "big";
  checksum: boolean;
}

function shardedMetadata(o: ShardOptions) {
  return {
    zarr_format: 3,
    node_type: "array",
    shape: SHAPE,
    data_type: "int32",
    chunk_grid: { name: "regular", configuration: { chunk_shape: SHARD } },
    chunk_key_encoding: { name: "default", configuration: { separator: "/" } },
    codecs: [
      {
        name: "sharding_indexed",
        configuration: {
          chunk_shape: INNER,
          codecs: [{ name: "bytes", configuration: { endian: "little" } }],
          index_codecs: [{ name: "bytes", configuration: { endian: o.endian } }, ...(o.checksum ? [{ name: "crc32c" }] : [])],
          index_location: o.indexLocation,
        },
      },
    ],
    fill_value: -1,
    attributes: {},
  };
}

/** The value stored at element (i, j). */
const cell = (i: number, j: number) => 100 * i + j;

/** Inner chunks (global chunk coordinates) left unwritten: the index marks them empty. */
const isEmpty = (ci: number, cj: number) => (ci + cj) % 3 === 0;

/**
 * Writes shard (si, sj): its inner chunks' bytes in reverse index order (so offsets are not
 * trivially increasing), then or before them the index: (offset, length) uint64 pairs in C order.
 */
function writeShard(o: ShardOptions, si: number, sj: number): Uint8Array {
  const perShard = [SHARD[0]! / INNER[0]!, SHARD[1]! / INNER[1]!];
  const count = perShard[0]! * perShard[1]!;
  const indexBytes = 16 * count + (o.checksum ? 4 : 0);
  const pieces: { inner: number; bytes: Uint8Array }[] = [];
  for (let inner = count - 1; inner >= 0; inner--) {
    const ci = si * perShard[0]! + Math.floor(inner / perShard[1]!);
    const cj = sj * perShard[1]! + (inner % perShard[1]!);
    if (ci * INNER[0]! >= SHAPE[0]! || cj * INNER[1]! >= SHAPE[1]! || isEmpty(ci, cj)) continue;
    const chunk = new Int32Array(INNER[0]! * INNER[1]!);
    for (let a = 0; a < INNER[0]!; a++) {
      for (let b = 0; b < INNER[1]!; b++) chunk[a * INNER[1]! + b] = cell(ci * INNER[0]! + a, cj * INNER[1]! + b);
    }
    pieces.push({ inner, bytes: new Uint8Array(chunk.buffer) });
  }
  const dataBytes = pieces.reduce((n, p) => n + p.bytes.length, 0);
  const shard = new Uint8Array(indexBytes + dataBytes);
  const dataStart = o.indexLocation === "start" ? indexBytes : 0;
  const indexStart = o.indexLocation === "start" ? 0 : dataBytes;
  const index = new DataView(shard.buffer, indexStart, indexBytes);
  for (let i = 0; i < count; i++) {
    index.setBigUint64(16 * i, 2n ** 64n - 1n, o.endian === "little");
    index.setBigUint64(16 * i + 8, 2n ** 64n - 1n, o.endian === "little");
  }
  let at = dataStart;
  for (const { inner, bytes } of pieces) {
    shard.set(bytes, at);
    index.setBigUint64(16 * inner, BigInt(at), o.endian === "little");
    index.setBigUint64(16 * inner + 8, BigInt(bytes.length), o.endian === "little");
    at += bytes.length;
  }
  if (o.checksum) index.setUint32(16 * count, crc32c(shard.subarray(indexStart, indexStart + 16 * count)), true);
  return shard;
}

function shardedStore(o: ShardOptions, missingShard?: [number, number]): RecordingStore {
  const store = new RecordingStore();
  store.set("/sharded/zarr.json", json(shardedMetadata(o)));
  for (let si = 0; si < Math.ceil(SHAPE[0]! / SHARD[0]!); si++) {
    for (let sj = 0; sj < Math.ceil(SHAPE[1]! / SHARD[1]!); sj++) {
      if (missingShard && missingShard[0] === si && missingShard[1] === sj) continue;
      store.set(`/sharded/c/${si}/${sj}`, writeShard(o, si, sj));
    }
  }
  return store;
}

/** The reads zarrita makes for `selection` of a sharded array, predicted from the model and the stored shards' indexes. */
function predictedShardReads(model: ZarrArray, store: RecordingStore, selection: ArraySelection): ReadRequest[] {
  const requests: ReadRequest[] = [];
  const indexes = new Map<string, ReturnType<ZarrArray["decodeIndex"]> | null>();
  for (const chunk of model.chunkGrid.cells(model.selectionRegion(selection))) {
    const { path, keyCoords } = model.locate(chunk);
    if (!indexes.has(path)) {
      const request = model.indexRequest(keyCoords);
      requests.push(request);
      const shard = store.data.get(path);
      indexes.set(path, shard ? model.decodeIndex(sliceRange(shard, request.range!)) : null);
    }
    const index = indexes.get(path);
    const read = index ? model.chunkRequest(chunk, index) : undefined;
    if (read) requests.push(read);
  }
  return requests;
}

function sliceRange(bytes: Uint8Array, r: RangeRequest): Uint8Array {
  return "suffixLength" in r ? bytes.subarray(bytes.length - r.suffixLength) : bytes.subarray(r.offset, r.offset + r.length);
}

function expectedValues(selectionRows: number[], selectionCols: number[]): number[] {
  const out: number[] = [];
  for (const i of selectionRows) for (const j of selectionCols) out.push(isEmpty(Math.floor(i / 2), Math.floor(j / 2)) ? -1 : cell(i, j));
  return out;
}

describe("the zarr array model predicts zarrita's shard reads", () => {
  const variants: ShardOptions[] = [
    { indexLocation: "end", endian: "little", checksum: true },
    { indexLocation: "end", endian: "big", checksum: false },
  ];

  for (const o of variants) {
    const name = `${o.endian} endian${o.checksum ? " + crc32c" : ""}`;
    it(`index at the end, ${name}: a suffix read per shard, then one range per written inner chunk`, async () => {
      const store = shardedStore(o, [2, 1]);
      const model = zarrArray(store.data.get("/sharded/zarr.json")!, { path: "/sharded" });
      expect(model.keyGrid.shape).toEqual([3, 2]);
      expect(model.chunkGrid.shape).toEqual([5, 3]);
      expect(model.shardIndexByteLength).toBe(4 * 16 + (o.checksum ? 4 : 0));
      for (const selection of SELECTIONS) {
        const arr = await openRecorded(store, "/sharded", "v3"); // a fresh array: zarrita caches indexes per array
        expect(arr.chunks).toEqual(INNER);
        const result = await zarr.get(arr, selection);
        expect(sortedKeys(store.log), JSON.stringify(selection)).toEqual(sortedKeys(predictedShardReads(model, store, selection)));
        if (selection === null) {
          // zarrita decodes our hand-written shards: the layout (and so the prediction) is the real one.
          const rows = range(10);
          const cols = range(6);
          const expected = expectedValues(rows, cols).map((v, k) => (rows[Math.floor(k / 6)]! >= 8 && cols[k % 6]! >= 4 ? -1 : v));
          expect(Array.from((result as zarr.Chunk<"int32">).data)).toEqual(expected);
        }
      }
      // Requests go only to keys on the grid, and every range is predicted: nothing out of the grid.
      expect(store.log.every((r) => model.parseKey(r.path) !== undefined)).toBe(true);
    });
  }

  it("index at the start: the model reads { offset: 0, length } and its ranges hold the inner chunks", async () => {
    const o: ShardOptions = { indexLocation: "start", endian: "little", checksum: true };
    const store = shardedStore(o);
    const model = zarrArray(store.data.get("/sharded/zarr.json")!, { path: "/sharded" });
    expect(model.indexRequest([1, 1])).toEqual({ path: "/sharded/c/1/1", range: { offset: 0, length: 68 } });
    let checked = 0;
    for (const shard of model.keyGrid.cells()) {
      const request = model.indexRequest(shard);
      const index = model.decodeIndex(store.getRange(request.path, request.range!)!);
      for (const chunk of model.chunksOfKey(shard)) {
        const read = model.chunkRequest(chunk, index);
        expect(read === undefined, `chunk ${chunk}`).toBe(isEmpty(chunk[0]!, chunk[1]!));
        if (!read) continue;
        const bytes = store.getRange(read.path, read.range!)!;
        const ints = new Int32Array(bytes.slice().buffer);
        expect(ints[0]).toBe(cell(chunk[0]! * 2, chunk[1]! * 2));
        expect(ints[3]).toBe(cell(chunk[0]! * 2 + 1, chunk[1]! * 2 + 1));
        checked++;
      }
    }
    expect(checked).toBe(15 - 5); // 5×3 inner chunks on the grid, 5 of them empty
  });

  it("zarrita 0.7 ignores index_location and reads a start index as a suffix (it cannot read such shards)", async () => {
    // Kept as a tripwire: when zarrita honours "start", its requests change and this test says so.
    const store = shardedStore({ indexLocation: "start", endian: "little", checksum: false });
    const arr = await openRecorded(store, "/sharded", "v3");
    await zarr.get(arr, [0, 0]).catch(() => undefined);
    expect(store.log[0]).toEqual({ path: "/sharded/c/0/0", range: { suffixLength: 64 } });
  });

  it("a sharded 0-d array: one shard c with one inner chunk", async () => {
    const store = new RecordingStore();
    const meta = { ...shardedMetadata({ indexLocation: "end", endian: "little", checksum: true }), shape: [] };
    meta.chunk_grid = { name: "regular", configuration: { chunk_shape: [] } };
    meta.codecs[0]!.configuration.chunk_shape = [];
    store.set("/z/zarr.json", json(meta));
    const shard = new Uint8Array(4 + 16 + 4);
    const view = new DataView(shard.buffer);
    view.setInt32(0, 1234, true);
    view.setBigUint64(4, 0n, true);
    view.setBigUint64(12, 4n, true);
    view.setUint32(20, crc32c(shard.subarray(4, 20)), true);
    store.set("/z/c", shard);
    const model = zarrArray(store.data.get("/z/zarr.json")!, { path: "/z" });
    const arr = await openRecorded(store, "/z", "v3");
    expect(await zarr.get(arr)).toBe(1234);
    expect(sortedKeys(store.log)).toEqual(sortedKeys(predictedShardReads(model, store, null)));
  });
});
