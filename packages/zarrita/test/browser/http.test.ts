// zarrita in Chromium reading real arrays over HTTP (a server on 127.0.0.1 started by the browser
// run's globalSetup) through withCache: the values match what was written, a second read makes no
// request, and a sharded array's shard index and inner chunks are cached as ranges.
import { FetchStore } from "@zarrita/storage";
import { createCache, parseCacheKey } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { describe, expect, inject, it } from "vitest";
import * as zarr from "zarrita";

const url = inject("zarrUrl");
const expected = inject("zarrExpected");

/** A FetchStore that counts the requests it sends. */
function countingStore() {
  const inner = new FetchStore(url);
  const counts = { requests: 0 };
  const store = {
    url: inner.url,
    get: (key: zarr.AbsolutePath, opts?: RequestInit) => (counts.requests++, inner.get(key, opts)),
    getRange: (key: zarr.AbsolutePath, range: Parameters<FetchStore["getRange"]>[1], opts?: RequestInit) => (
      counts.requests++, inner.getRange(key, range, opts)
    ),
  };
  return { store, counts };
}

async function readAll(store: zarr.Readable, name: string): Promise<number[]> {
  const arr = await zarr.open.v3(zarr.root(store).resolve(name), { kind: "array" });
  const { data } = await zarr.get(arr, null);
  return Array.from(data as Float32Array);
}

describe("zarrita over HTTP in Chromium", () => {
  for (const name of ["plain", "sharded"]) {
    it(`reads the ${name} array through memory: right values, and no request on the second read`, async () => {
      const { store, counts } = countingStore();
      const cache = createCache()
        .tier(memory({ maxBytes: 16 << 20 }))
        .build();
      const cached = withCache(store, cache);
      const first = await readAll(cached, name);
      expect(first.length).toBe(expected[name]!.values.length);
      expect(first).toEqual(expected[name]!.values);
      expect(counts.requests).toBeGreaterThan(0);
      const before = counts.requests;
      expect(await readAll(cached, name)).toEqual(expected[name]!.values);
      expect(counts.requests).toBe(before);
      if (name === "sharded") {
        const keys: string[] = [];
        for await (const key of cache.levels[0]!.keys()) keys.push(key);
        const ranges = keys.map((k) => parseCacheKey(k)?.range).filter((r) => r !== undefined);
        expect(ranges.some((r) => "suffixLength" in r)).toBe(true); // a shard index (suffix range)
        expect(ranges.some((r) => "offset" in r)).toBe(true); // an inner chunk (offset+length)
      }
      await cache.close();
    });
  }
});
