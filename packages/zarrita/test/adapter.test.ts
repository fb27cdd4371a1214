import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FetchStore, FileSystemStore } from "@zarrita/storage";
import { cacheKey, createCache, isZarrsCacheError, parseCacheKey, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { cacheExtension, withCache } from "@zarrs-cache/zarrita";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as zarr from "zarrita";
import { SMALL_ARRAYS, makeDataset, serve, sleep, type TestServer } from "./fixtures.js";

const MiB = 1024 * 1024;
const names = [...Object.keys(SMALL_ARRAYS)];

async function readAll(store: zarr.Readable): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  const root = zarr.root(store);
  for (const name of names) {
    const arr = await zarr.open(root.resolve(name), { kind: "array" });
    const chunk = await zarr.get(arr);
    const data = chunk.data as Float32Array;
    out[name] = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const legacy = await zarr.open.v2(root.resolve("legacy"), { kind: "array" });
  const data = (await zarr.get(legacy)).data as Float32Array;
  out.legacy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return out;
}

let dir: string;
let server: TestServer;
let caches: TieredCache[] = [];
const newCache = (options?: Parameters<typeof createCache>[0]) => {
  const cache = createCache(options)
    .tier(memory({ maxBytes: 64 * MiB }))
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

describe("withCache over HTTP with real zarrita", () => {
  it("reads the same bytes as an uncached store, v2, v3 and sharded v3", async () => {
    const plain = await readAll(new FetchStore(server.url));
    const cache = newCache();
    const cold = await readAll(withCache(new FetchStore(server.url), cache));
    const warm = await readAll(withCache(new FetchStore(server.url), cache));
    for (const name of [...names, "legacy"]) {
      expect(Buffer.compare(cold[name]!, plain[name]!), name).toBe(0);
      expect(Buffer.compare(warm[name]!, plain[name]!), name).toBe(0);
    }
  });

  it("makes zero upstream requests on a warm re-read and a re-open", async () => {
    const cache = newCache();
    const store = withCache(new FetchStore(server.url), cache);
    server.reset();
    await readAll(store);
    const cold = server.stats.requests;
    expect(cold).toBeGreaterThan(50);
    expect(server.stats.notFound).toBeGreaterThan(0); // zarr.open's v2 probes on v3 arrays
    server.reset();
    await readAll(store); // re-opens every array: metadata, absent probes, shard indexes, chunks
    expect(server.stats.requests).toBe(0);
    // A second wrapper of the same URL shares the namespace, hence the entries.
    await readAll(withCache(new FetchStore(server.url), cache));
    expect(server.stats.requests).toBe(0);
  });

  it("caches shard index suffix reads and inner-chunk ranges", async () => {
    const cache = newCache();
    const store = withCache(new FetchStore(server.url), cache);
    const arr = await zarr.open(zarr.root(store).resolve("wind"), { kind: "array" });
    server.reset();
    await zarr.get(arr, [zarr.slice(0, 4), null, null]);
    const shardPaths = [...server.stats.byPath.keys()].filter((p) => p.includes("/wind/c/"));
    expect(shardPaths.length).toBeGreaterThan(0);
    const keys: string[] = [];
    for await (const key of cache.keys()) keys.push(key);
    const ranges = keys.map((k) => parseCacheKey(k)).filter((k) => k?.path === "/wind/c/0/0/0" && k.range !== undefined);
    expect(ranges.some((k) => "suffixLength" in k!.range!)).toBe(true); // suffix (index) read
    expect(ranges.some((k) => "offset" in k!.range!)).toBe(true); // inner chunk range
    server.reset();
    const again = await zarr.open(zarr.root(store).resolve("wind"), { kind: "array" });
    await zarr.get(again, [zarr.slice(0, 4), null, null]);
    expect(server.stats.requests).toBe(0);
  });

  it("merges 32 concurrent misses of one key into one upstream request", async () => {
    const cache = newCache();
    const store = withCache(new FetchStore(server.url), cache);
    server.reset();
    const results = await Promise.all(Array.from({ length: 32 }, () => store.get("/temperature/c/0/0/0")));
    expect(server.stats.requests).toBe(1);
    for (const r of results) expect(Buffer.compare(r!, results[0]!)).toBe(0);
    // Each caller got its own buffer.
    expect(new Set(results.map((r) => r!.buffer)).size).toBe(32);
    // FetchStore answers a suffix read with HEAD + GET by default: one logical read, 2 requests.
    server.reset();
    await Promise.all(Array.from({ length: 32 }, () => store.getRange!("/wind/c/0/0/0", { suffixLength: 64 * 16 })));
    expect(server.stats.requests).toBe(2);
    const suffixStore = withCache(new FetchStore(server.url, { useSuffixRequest: true }), newCache());
    server.reset();
    await Promise.all(Array.from({ length: 32 }, () => suffixStore.getRange!("/wind/c/0/1/0", { suffixLength: 64 * 16 })));
    expect(server.stats.requests).toBe(1);
  });

  it("never lets a caller's mutation reach the cache", async () => {
    const cache = newCache();
    const store = withCache(new FetchStore(server.url), cache);
    const first = (await store.get("/pressure/c/0/0"))!; // miss
    const original = first.slice();
    first.fill(7);
    const second = (await store.get("/pressure/c/0/0"))!; // memory hit
    expect(Buffer.compare(second, original)).toBe(0);
    second.fill(9);
    expect(Buffer.compare((await store.get("/pressure/c/0/0"))!, original)).toBe(0);
  });

  it("with copy: false hands out the cached buffer itself", async () => {
    const cache = newCache();
    const store = withCache(new FetchStore(server.url), cache, { copy: false });
    await store.get("/pressure/c/0/0");
    const a = await store.get("/pressure/c/0/0");
    const b = await store.get("/pressure/c/0/0");
    expect(a).toBe(b);
  });

  it("propagates upstream errors to every waiter and never caches them", async () => {
    let failing = true;
    const flaky = await serve(dir, { latencyMs: 5, fail: (p) => (failing && p.endsWith("/c/1/1") ? 500 : undefined) });
    try {
      const cache = newCache();
      const store = withCache(new FetchStore(flaky.url), cache);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.get("/pressure/c/1/1")));
      expect(results.every((r) => r.status === "rejected")).toBe(true);
      expect(flaky.stats.requests).toBe(1);
      failing = false;
      const value = await store.get("/pressure/c/1/1");
      expect(value?.byteLength).toBe(32 * 32 * 4);
      expect(flaky.stats.requests).toBe(2);
    } finally {
      await flaky.close();
    }
  });

  it("aborts only the caller whose signal fired, not the shared fetch", async () => {
    const slow = await serve(dir, { latencyMs: 150 });
    try {
      const cache = newCache();
      const store = withCache(new FetchStore(slow.url), cache);
      const controller = new AbortController();
      const aborted = store.get("/pressure/c/0/1", { signal: controller.signal });
      const other = store.get("/pressure/c/0/1");
      setTimeout(() => controller.abort(new Error("user gave up")), 20);
      await expect(aborted).rejects.toThrow("user gave up");
      expect((await other)?.byteLength).toBe(32 * 32 * 4);
      expect(slow.stats.requests).toBe(1);
      // The shared result was cached.
      await store.get("/pressure/c/0/1");
      expect(slow.stats.requests).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it("expires chunks and metadata by their TTL class", async () => {
    const cache = newCache({ ttl: { chunk: 100, metadata: 60_000 } });
    const store = withCache(new FetchStore(server.url), cache);
    await store.get("/pressure/c/0/0");
    await store.get("/pressure/zarr.json");
    server.reset();
    await sleep(150);
    await store.get("/pressure/c/0/0");
    await store.get("/pressure/zarr.json");
    expect([...server.stats.byPath.keys()]).toEqual(["/pressure/c/0/0"]);
  });

  it("keeps datasets apart by namespace and requires one for stores without a URL", async () => {
    const other = await makeDataset();
    fs.writeFileSync(path.join(other, "pressure", "c", "0", "0"), new Uint8Array(16).fill(1));
    const otherServer = await serve(other);
    try {
      const cache = newCache();
      const a = withCache(new FetchStore(server.url), cache);
      const b = withCache(new FetchStore(otherServer.url), cache);
      expect((await a.get("/pressure/c/0/0"))?.byteLength).toBe(4096);
      expect((await b.get("/pressure/c/0/0"))?.byteLength).toBe(16);
      const mapStore = { get: async () => undefined };
      expect(() => withCache(mapStore, cache)).toThrow(/namespace/);
      expect(withCache(mapStore, cache, { namespace: "mine" })).toBeDefined();
    } finally {
      await otherServer.close();
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it("works as a zarrita store extension", async () => {
    const cache = newCache();
    const store = await zarr.extendStore(new FetchStore(server.url), (s) => cacheExtension(s, { cache }));
    await readAll(store);
    server.reset();
    await readAll(store);
    expect(server.stats.requests).toBe(0);
    expect((store as unknown as { url: unknown }).url).toBeDefined(); // the rest is the store's own
  });

  it("never throws synchronously: errors arrive as rejected promises", async () => {
    const cache = newCache();
    const throwing = withCache(new FetchStore(server.url), cache, {
      shouldCache: () => {
        throw new Error("policy bug");
      },
    });
    const attempt = throwing.get("/pressure/zarr.json");
    await expect(attempt).rejects.toThrow("policy bug");
    const store = withCache(new FetchStore(server.url), cache);
    await cache.close();
    const afterClose = store.get("/pressure/zarr.json");
    await expect(afterClose).rejects.toSatisfy((e) => isZarrsCacheError(e, "CLOSED"));
  });

  it("keeps one prefetch loader per dataset however often it is wrapped", async () => {
    const cache = newCache();
    for (let i = 0; i < 100; i++) withCache(new FetchStore(server.url), cache);
    expect((cache as unknown as { loaders: unknown[] }).loaders).toHaveLength(1);
    server.reset();
    await cache.prefetch([cacheKey(server.url, "/pressure/c/0/0")]);
    expect(server.stats.requests).toBe(1);
    expect(cache.peek(cacheKey(server.url, "/pressure/c/0/0"))?.byteLength).toBe(4096);
  });

  it("keeps the wrapped store's own properties, methods, accessors and class", async () => {
    class PrivateStore {
      readonly url = "mem://private";
      #data = new Map<string, Uint8Array>([["/k", new Uint8Array([1])]]);
      #reads = 0;
      async get(key: string) {
        this.#reads++;
        return this.#data.get(key);
      }
      get reads() {
        return this.#reads;
      }
      describe() {
        return `${this.#data.size} keys`;
      }
    }
    const inner = new PrivateStore();
    const store = withCache(inner as never, newCache()) as unknown as PrivateStore;
    expect(store).toBeInstanceOf(PrivateStore);
    expect(store.url).toBe("mem://private");
    expect(Array.from((await store.get("/k"))!)).toEqual([1]);
    await store.get("/k");
    expect(store.reads).toBe(1); // the second read was a cache hit
    expect(store.describe()).toBe("1 keys");
    const fetchStore = withCache(new FetchStore(server.url), newCache());
    expect(fetchStore).toBeInstanceOf(FetchStore);
    expect(String((fetchStore as unknown as { url: unknown }).url)).toContain("127.0.0.1");
  });

  it("rejects bad arguments with typed errors", () => {
    const cache = newCache();
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isZarrsCacheError(error) ? error.code : `not typed: ${String(error)}`;
      }
      return "no error";
    };
    expect(codeOf(() => withCache(null as never, cache))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => withCache(new FetchStore(server.url), {} as never))).toBe("INVALID_CONFIG");
    expect(codeOf(() => withCache(new FetchStore(server.url), cache, { namespace: "" }))).toBe("INVALID_CONFIG");
    expect(codeOf(() => withCache(new FetchStore(server.url), cache, { copy: "yes" as never }))).toBe("INVALID_CONFIG");
  });
});

describe("withCache on a writable store", () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "zc-write-"));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A FileSystemStore that counts reads, and can be told to fail writes. */
  function countingStore(folder: string) {
    const inner = new FileSystemStore(folder);
    const counts = { gets: 0, ranges: 0, sets: 0, keys: [] as string[] };
    let failWrites = false;
    const store = {
      get: (key: zarr.AbsolutePath) => (counts.gets++, counts.keys.push(key), inner.get(key)),
      getRange: (key: zarr.AbsolutePath, range: zarr.RangeQuery) => (counts.ranges++, inner.getRange(key, range)),
      set: async (key: zarr.AbsolutePath, value: Uint8Array) => {
        if (failWrites) throw new Error("disk on fire");
        counts.sets++;
        await inner.set(key, value);
      },
    };
    return { store, counts, failNextWrites: (v: boolean) => (failWrites = v) };
  }

  it("write-through: zarr.create and zarr.set land in the store, then in the cache", async () => {
    const { store, counts } = countingStore(path.join(root, "wt"));
    const cache = newCache();
    const cached = withCache(store, cache, { namespace: "wt" });
    const arr = await zarr.create(zarr.root(cached).resolve("a"), { shape: [8, 8], chunkShape: [4, 4], dtype: "int32" });
    await zarr.set(arr, null, 5);
    counts.gets = 0;
    const reopened = await zarr.open(zarr.root(cached).resolve("a"), { kind: "array" });
    const read = await zarr.get(reopened);
    expect(Array.from(read.data as Int32Array).every((v) => v === 5)).toBe(true);
    // Written values were cached: only open()'s first probes of absent v2 metadata reach the store.
    expect(counts.keys.every((k) => /\.z(attrs|array|group)$/.test(k))).toBe(true);
    counts.keys = [];
    await zarr.get(await zarr.open(zarr.root(cached).resolve("a"), { kind: "array" }));
    expect(counts.keys).toEqual([]);
    // Overwrite a region: the cached chunk is replaced, never stale.
    await zarr.set(reopened, [zarr.slice(0, 4), zarr.slice(0, 4)], 9);
    const after = await zarr.get(reopened, [0, 0]);
    expect(after).toBe(9);
  });

  it("a failed store write leaves the cache as it was", async () => {
    const { store, failNextWrites } = countingStore(path.join(root, "fail"));
    const cache = newCache();
    const cached = withCache(store, cache, { namespace: "fail" });
    await cached.set("/x", new Uint8Array([1, 2, 3]));
    failNextWrites(true);
    await expect(cached.set("/x", new Uint8Array([4, 5, 6]))).rejects.toThrow("disk on fire");
    expect(Array.from((await cached.get("/x"))!)).toEqual([1, 2, 3]);
  });

  it("write-around: a write invalidates, the next read goes to the store", async () => {
    const { store, counts } = countingStore(path.join(root, "wa"));
    const cache = newCache({ writePolicy: "write-around" });
    const cached = withCache(store, cache, { namespace: "wa" });
    await cached.set("/k", new Uint8Array([1]));
    counts.gets = 0;
    expect(Array.from((await cached.get("/k"))!)).toEqual([1]);
    expect(counts.gets).toBe(1);
    await cached.get("/k");
    expect(counts.gets).toBe(1);
    await cached.set("/k", new Uint8Array([2]));
    expect(Array.from((await cached.get("/k"))!)).toEqual([2]);
    expect(counts.gets).toBe(2);
  });

  it("a write drops the cached ranges of that key", async () => {
    const { store, counts } = countingStore(path.join(root, "ranges"));
    const cache = newCache();
    const cached = withCache(store, cache, { namespace: "ranges" });
    await cached.set("/blob", new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(Array.from((await cached.getRange!("/blob", { offset: 1, length: 2 }))!)).toEqual([2, 3]);
    expect(Array.from((await cached.getRange!("/blob", { suffixLength: 2 }))!)).toEqual([5, 6]);
    await cached.set("/blob", new Uint8Array([9, 8, 7, 6, 5, 4]));
    counts.ranges = 0;
    expect(Array.from((await cached.getRange!("/blob", { offset: 1, length: 2 }))!)).toEqual([8, 7]);
    expect(Array.from((await cached.getRange!("/blob", { suffixLength: 2 }))!)).toEqual([5, 4]);
    expect(counts.ranges).toBe(2);
  });
});
