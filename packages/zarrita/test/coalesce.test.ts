// Coalesced shard reads: the inner-chunk ranges zarrita asks for together go upstream as one
// request, each range is cached under its own key, and zarrita's withRangeCoalescing stacked
// above or below changes neither the bytes nor the request count.
import fs from "node:fs";
import { type AbsolutePath, FetchStore, type RangeQuery } from "@zarrita/storage";
import { createCache, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as zarr from "zarrita";
import { makeDataset, serve, sleep, type TestServer } from "./fixtures.js";

let dir: string;
let server: TestServer;
let caches: TieredCache[] = [];
const newCache = () => {
  const cache = createCache()
    .tier(memory({ maxBytes: 1 << 26 }))
    .build();
  caches.push(cache);
  return cache;
};

beforeAll(async () => {
  dir = await makeDataset();
  server = await serve(dir, { latencyMs: 5 });
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cache of caches) await cache.close();
  caches = [];
});

/** One shard of "wind": 8 × 32 × 32 of 4 × 16 × 16 inner chunks, i.e. 8 inner chunks. */
const ONE_SHARD = [zarr.slice(0, 8), zarr.slice(0, 32), zarr.slice(0, 32)];
const SHARD = "/wind/c/0/0/0";

async function readShard(store: zarr.Readable): Promise<Float32Array> {
  const arr = await zarr.open(zarr.root(store).resolve("wind"), { kind: "array" });
  server.reset();
  return (await zarr.get(arr, ONE_SHARD)).data as Float32Array;
}

const shardRequests = () => server.stats.byPath.get(SHARD) ?? 0;

describe("coalesced shard reads", () => {
  it("reads the inner chunks of a shard with one request besides the index, and caches each under its own key", async () => {
    const expected = await readShard(new FetchStore(server.url, { useSuffixRequest: true }));
    expect(shardRequests()).toBe(9); // the index, then 8 inner chunks
    const store = withCache(new FetchStore(server.url, { useSuffixRequest: true }), newCache());
    expect(Array.from(await readShard(store))).toEqual(Array.from(expected));
    expect(shardRequests()).toBe(2);
    // Every inner chunk is now a hit of its own.
    expect(Array.from(await readShard(store))).toEqual(Array.from(expected));
    expect(server.stats.requests).toBe(0);
    const arr = await zarr.open(zarr.root(store).resolve("wind"), { kind: "array" });
    server.reset();
    await zarr.get(arr, [zarr.slice(4, 8), zarr.slice(16, 32), zarr.slice(0, 16)]);
    expect(server.stats.requests).toBe(0);
  });

  it("coalesce: false sends every range alone", async () => {
    const store = withCache(new FetchStore(server.url, { useSuffixRequest: true }), newCache(), { coalesce: false });
    await readShard(store);
    expect(shardRequests()).toBe(9);
  });

  for (const where of ["above", "below"] as const) {
    it(`zarrita's withRangeCoalescing ${where} the cache: same bytes, no extra requests`, async () => {
      const expected = await readShard(new FetchStore(server.url, { useSuffixRequest: true }));
      const cache = newCache();
      const store =
        where === "above"
          ? zarr.withRangeCoalescing(withCache(new FetchStore(server.url, { useSuffixRequest: true }), cache))
          : withCache(zarr.withRangeCoalescing(new FetchStore(server.url, { useSuffixRequest: true })), cache, { namespace: server.url });
      expect(Array.from(await readShard(store))).toEqual(Array.from(expected));
      expect(shardRequests()).toBe(2);
      expect(Array.from(await readShard(store))).toEqual(Array.from(expected));
      expect(server.stats.requests).toBe(0);
    });
  }

  it("concurrent region reads of one shard share one request; a read inside a request in flight waits for it", async () => {
    const expected = await readShard(new FetchStore(server.url, { useSuffixRequest: true }));
    const store = withCache(new FetchStore(server.url, { useSuffixRequest: true }), newCache());
    const arr = await zarr.open(zarr.root(store).resolve("wind"), { kind: "array" });
    await store.getRange!(SHARD, { suffixLength: 8 * 16 }); // the index, cached
    server.reset();
    const whole = zarr.get(arr, ONE_SHARD);
    const halves = [zarr.get(arr, [zarr.slice(0, 4), null, null]), zarr.get(arr, [zarr.slice(4, 8), zarr.slice(0, 32), zarr.slice(0, 32)])];
    await sleep(1); // the merged request is out: the next read rides on it
    const late = zarr.get(arr, [zarr.slice(0, 8), zarr.slice(0, 16), zarr.slice(0, 16)]);
    expect(Array.from((await whole).data as Float32Array)).toEqual(Array.from(expected));
    await Promise.all([...halves, late]);
    expect(shardRequests()).toBe(1);
  });
});

/** A store over one in-memory object that records the ranges it was asked for. */
class RecordingStore {
  readonly asked: RangeQuery[] = [];
  readonly signals: AbortSignal[] = [];
  constructor(
    readonly bytes: Uint8Array,
    private readonly delay = 5,
  ) {}
  async get(): Promise<Uint8Array | undefined> {
    return this.bytes.slice();
  }
  async getRange(_path: AbsolutePath, range: RangeQuery, opts?: { signal?: AbortSignal }): Promise<Uint8Array | undefined> {
    this.asked.push(range);
    if (opts?.signal) this.signals.push(opts.signal);
    await sleep(this.delay);
    opts?.signal?.throwIfAborted();
    if ("suffixLength" in range) return this.bytes.slice(this.bytes.length - range.suffixLength);
    return this.bytes.slice(range.offset, range.offset + range.length); // short past the end
  }
}

const object = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff);
const expectRange = (value: Uint8Array | undefined, offset: number, length: number) =>
  expect(Array.from(value!)).toEqual(Array.from(object.subarray(offset, offset + length)));

describe("RangeBatcher through withCache", () => {
  it("merges ranges within the gap, keeps farther ones apart, and honours maxBytes", async () => {
    const upstream = new RecordingStore(object);
    const store = withCache(upstream, newCache(), { namespace: "ranges", coalesce: { gap: 100, maxBytes: 1000 } });
    const reads = [
      [0, 100],
      [150, 50], // 50 bytes after the first: merged
      [400, 100], // 200 after: apart
      [520, 480], // merged with the one before (gap 20), 600 bytes in all
      [1000, 500], // would make 1100 > maxBytes: apart
    ] as const;
    const values = await Promise.all(reads.map(([offset, length]) => store.getRange!("/o", { offset, length })));
    values.forEach((value, n) => expectRange(value, reads[n]![0], reads[n]![1]));
    expect(upstream.asked).toEqual([
      { offset: 0, length: 200 },
      { offset: 400, length: 600 },
      { offset: 1000, length: 500 },
    ]);
  });

  it("hands each caller a buffer of its own, not a view of the merged answer", async () => {
    const upstream = new RecordingStore(object);
    const store = withCache(upstream, newCache(), { namespace: "ranges", copy: false });
    const [a, b] = await Promise.all([store.getRange!("/o", { offset: 0, length: 10 }), store.getRange!("/o", { offset: 10, length: 10 })]);
    expect(a!.buffer.byteLength).toBe(10);
    expect(b!.buffer.byteLength).toBe(10);
  });

  it("asks again, alone, for a range the merged answer does not cover (past the end)", async () => {
    const upstream = new RecordingStore(object);
    const store = withCache(upstream, newCache(), { namespace: "ranges" });
    const [inside, past] = await Promise.all([
      store.getRange!("/o", { offset: 4000, length: 50 }),
      store.getRange!("/o", { offset: 4060, length: 100 }),
    ]);
    expectRange(inside, 4000, 50);
    expectRange(past, 4060, 36);
    expect(upstream.asked).toEqual([
      { offset: 4000, length: 160 },
      { offset: 4060, length: 100 },
    ]);
  });

  it("suffix reads are never merged", async () => {
    const upstream = new RecordingStore(object);
    const store = withCache(upstream, newCache(), { namespace: "ranges" });
    await Promise.all([store.getRange!("/o", { suffixLength: 16 }), store.getRange!("/o", { offset: 0, length: 16 })]);
    expect(upstream.asked).toHaveLength(2);
  });

  it("one caller's abort leaves the merged request to the others; it stops when all gave up", async () => {
    const upstream = new RecordingStore(object, 30);
    const store = withCache(upstream, newCache(), { namespace: "ranges" });
    const quitter = new AbortController();
    const stays = store.getRange!("/o", { offset: 0, length: 10 });
    const leaves = store.getRange!("/o", { offset: 10, length: 10 }, { signal: quitter.signal });
    await sleep(5);
    quitter.abort(new Error("not needed"));
    await expect(leaves).rejects.toThrow("not needed");
    expectRange(await stays, 0, 10);
    expect(upstream.signals[0]!.aborted).toBe(false);

    const all = [new AbortController(), new AbortController()];
    const both = [200, 300].map((offset, n) => store.getRange!("/o", { offset, length: 10 }, { signal: all[n]!.signal }));
    await sleep(5);
    for (const c of all) c.abort(new Error("gone"));
    for (const p of both) await expect(p).rejects.toThrow("gone");
    await sleep(40);
    expect(upstream.signals[1]!.aborted).toBe(true);
  });

  it("an upstream error reaches every range of the merged request and is not cached", async () => {
    const upstream = new RecordingStore(object);
    let fail = true;
    const original = upstream.getRange.bind(upstream);
    upstream.getRange = async (path, range, opts) => {
      if (fail) throw new Error("upstream down");
      return original(path, range, opts);
    };
    const store = withCache(upstream, newCache(), { namespace: "ranges" });
    const reads = [0, 20].map((offset) => store.getRange!("/o", { offset, length: 10 }));
    for (const p of reads) await expect(p).rejects.toThrow("upstream down");
    fail = false;
    expectRange(await store.getRange!("/o", { offset: 20, length: 10 }), 20, 10);
  });
});
