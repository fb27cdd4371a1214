// Keys through withCache: stores that share a cache never read each other's bytes, whatever
// their namespaces and paths, and entries left under the old key format are never served.
import type { AbsolutePath, RangeQuery } from "@zarrita/storage";
import { cacheKey, createCache, type CacheEntry, type CacheTier, type SetOptions, type TieredCache } from "@zarrs-cache/core";
import { memory, type MemoryTier } from "@zarrs-cache/memory";
import { StoreKeys, withCache } from "@zarrs-cache/zarrita";
import { afterEach, describe, expect, it } from "vitest";

let caches: TieredCache[] = [];
const track = (cache: TieredCache) => (caches.push(cache), cache);
afterEach(async () => {
  for (const cache of caches) await cache.close();
  caches = [];
});

/** A store over a Map, counting reads; `getRange` slices the stored value. */
function mapStore(entries: Record<string, number[]>, url?: string) {
  const values = new Map(Object.entries(entries).map(([k, v]) => [k, new Uint8Array(v)]));
  const reads: string[] = [];
  return {
    ...(url !== undefined && { url }),
    reads,
    async get(path: AbsolutePath) {
      reads.push(path);
      return values.get(path)?.slice();
    },
    async getRange(path: AbsolutePath, range: RangeQuery) {
      reads.push(`${path} ${JSON.stringify(range)}`);
      const value = values.get(path);
      if (value === undefined) return undefined;
      if ("suffixLength" in range) return value.slice(value.byteLength - range.suffixLength);
      return value.slice(range.offset, range.offset + range.length);
    },
  };
}

/** A tier that keeps keys as UTF-8 text, as Redis and most Keyv stores do. */
class Utf8KeyTier implements CacheTier {
  readonly name = "utf8";
  private readonly inner: MemoryTier = memory({ maxBytes: 1 << 20 });
  private text = (key: string) => Buffer.from(key, "utf8").toString("utf8");
  get(key: string): Promise<CacheEntry | undefined> {
    return this.inner.get(this.text(key));
  }
  set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    return this.inner.set(this.text(key), value, options);
  }
  delete(key: string): Promise<boolean> {
    return this.inner.delete(this.text(key));
  }
  deletePrefix(prefix: string): Promise<number> {
    return this.inner.deletePrefix(this.text(prefix));
  }
  has(key: string): Promise<boolean> {
    return this.inner.has(this.text(key));
  }
  clear(): Promise<void> {
    return this.inner.clear();
  }
  keys(prefix?: string): AsyncIterable<string> {
    return this.inner.keys(prefix === undefined ? undefined : this.text(prefix));
  }
  stats() {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const bytes = (value: Uint8Array | undefined) => (value === undefined ? undefined : Array.from(value));

describe("withCache keys", () => {
  it("keeps namespace a + /b:/c and namespace a:/b + /c apart (also URL namespaces)", async () => {
    const cache = track(
      createCache()
        .tier(memory({ maxBytes: 1 << 20 }))
        .build(),
    );
    const a = withCache(mapStore({ "/b:/c": [1] }), cache, { namespace: "a" });
    const ab = withCache(mapStore({ "/c": [2] }), cache, { namespace: "a:/b" });
    expect(bytes(await a.get("/b:/c" as AbsolutePath))).toEqual([1]);
    expect(bytes(await ab.get("/c"))).toEqual([2]);
    expect(bytes(await a.get("/b:/c" as AbsolutePath))).toEqual([1]);

    const x = withCache(mapStore({ "/y:/z": [3] }, "https://example.com/x"), cache);
    const xy = withCache(mapStore({ "/z": [4] }, "https://example.com/x:/y"), cache);
    expect(bytes(await xy.get("/z"))).toEqual([4]);
    expect(bytes(await x.get("/y:/z" as AbsolutePath))).toEqual([3]);
    expect(bytes(await xy.get("/z"))).toEqual([4]);
  });

  it("never serves a path holding NUL the bytes of another path's range, or the reverse", async () => {
    const cache = track(
      createCache()
        .tier(memory({ maxBytes: 1 << 20 }))
        .build(),
    );
    const raw = mapStore({ "/a": [1, 2, 3, 4], "/a\u00000+2": [9], "/a\u0000r0+2": [8], "/a\u0000r-1": [7] });
    const store = withCache(raw, cache, { namespace: "nul" });
    expect(bytes(await store.getRange!("/a", { offset: 0, length: 2 }))).toEqual([1, 2]);
    expect(bytes(await store.getRange!("/a", { suffixLength: 1 }))).toEqual([4]);
    expect(bytes(await store.get("/a\u00000+2" as AbsolutePath))).toEqual([9]);
    expect(bytes(await store.get("/a\u0000r0+2" as AbsolutePath))).toEqual([8]);
    expect(bytes(await store.get("/a\u0000r-1" as AbsolutePath))).toEqual([7]);
    // All five are cached under their own keys now.
    raw.reads.length = 0;
    expect(bytes(await store.get("/a\u0000r0+2" as AbsolutePath))).toEqual([8]);
    expect(bytes(await store.getRange!("/a", { offset: 0, length: 2 }))).toEqual([1, 2]);
    expect(raw.reads).toEqual([]);
  });

  it("keeps paths with different lone surrogates apart in a tier that stores keys as UTF-8", async () => {
    const cache = track(createCache().tier(new Utf8KeyTier()).build());
    const store = withCache(mapStore({ "/x\ud800": [1], "/x\ud801": [2] }), cache, { namespace: "surrogates" });
    expect(bytes(await store.get("/x\ud800" as AbsolutePath))).toEqual([1]);
    expect(bytes(await store.get("/x\ud801" as AbsolutePath))).toEqual([2]);
    expect(bytes(await store.get("/x\ud800" as AbsolutePath))).toEqual([1]);
  });

  it("never serves entries written under the old key format", async () => {
    const tier = memory({ maxBytes: 1 << 20 });
    // What an earlier version left in a persistent tier: `namespace:path`, ranges after a NUL.
    const poison = new Uint8Array([66, 65, 68]);
    await tier.set("old:/arr/zarr.json", poison);
    await tier.set("old:/arr/c/0\u00000+2", poison);
    await tier.set("old:/arr/c/0\u0000-2", poison);
    await tier.set("old:/arr/.zattrs", new Uint8Array(0)); // an old "absent" marker
    const cache = track(createCache().tier(tier).build());
    const raw = mapStore({ "/arr/zarr.json": [1], "/arr/c/0": [1, 2, 3, 4], "/arr/.zattrs": [5] });
    const store = withCache(raw, cache, { namespace: "old" });
    expect(bytes(await store.get("/arr/zarr.json"))).toEqual([1]);
    expect(bytes(await store.getRange!("/arr/c/0", { offset: 0, length: 2 }))).toEqual([1, 2]);
    expect(bytes(await store.getRange!("/arr/c/0", { suffixLength: 2 }))).toEqual([3, 4]);
    expect(bytes(await store.get("/arr/.zattrs"))).toEqual([5]);
    expect(raw.reads).toHaveLength(4); // every read went upstream
  });

  it("prefetches whole values and ranges by their keys, and nothing by an old-format key", async () => {
    const cache = track(
      createCache()
        .tier(memory({ maxBytes: 1 << 20 }))
        .build(),
    );
    const raw = mapStore({ "/p:q/c/0": [1, 2, 3, 4] }, "https://example.com/data.zarr");
    const store = withCache(raw, cache);
    const namespace = "https://example.com/data.zarr";
    const oldFormat = `${namespace}:/p:q/c/0`;
    await cache.prefetch([cacheKey(namespace, "/p:q/c/0"), cacheKey(namespace, "/p:q/c/0", { offset: 1, length: 2 }), oldFormat]);
    expect(raw.reads.sort()).toEqual(["/p:q/c/0", '/p:q/c/0 {"offset":1,"length":2}']);
    raw.reads.length = 0;
    expect(bytes(await store.get("/p:q/c/0" as AbsolutePath))).toEqual([1, 2, 3, 4]);
    expect(bytes(await store.getRange!("/p:q/c/0" as AbsolutePath, { offset: 1, length: 2 }))).toEqual([2, 3]);
    expect(raw.reads).toEqual([]);
  });
});

describe("StoreKeys remembers whole-value keys", () => {
  it("hands out the same key string for a path every time, equal to core's encoding", () => {
    const keys = new StoreKeys("https://example.org/data.zarr");
    const first = keys.whole("/temp/c/0/0");
    const again = keys.whole(["/temp", "c", "0", "0"].join("/")); // a freshly built path string
    expect(again).toBe(first);
    expect(first).toBe(cacheKey("https://example.org/data.zarr", "/temp/c/0/0"));
    expect(keys.whole("/a:b\u0000c")).toBe(cacheKey("https://example.org/data.zarr", "/a:b\u0000c")); // escaped paths too
    expect(keys.parse(keys.range("/temp/c/0/0", { offset: 4, length: 8 }))).toEqual({
      path: "/temp/c/0/0",
      range: { offset: 4, length: 8 },
    });
  });

  it("stays correct past its bound, and remembers nothing for a path that is not a string", () => {
    const keys = new StoreKeys("ns");
    for (let i = 0; i < 40_000; i++) expect(keys.whole(`/c/${i}`)).toBe(cacheKey("ns", `/c/${i}`));
    expect(() => keys.whole(5 as unknown as string)).toThrow(/path must be a string/);
    expect(() => keys.whole(5 as unknown as string)).toThrow(/path must be a string/);
  });
});
