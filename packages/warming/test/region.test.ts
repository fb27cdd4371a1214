// warmRegion over real arrays served over HTTP: afterwards the region reads with no upstream
// request; shards are read as coalesced ranges; progress, abort and bad input.
import { createCache, isZarrsCacheError, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { cacheExtension, withCache } from "@zarrs-cache/zarrita";
import { FetchStore } from "@zarrita/storage";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as zarr from "zarrita";
import { type RegionProgress, warming, warmRegion } from "../src/index.js";
import { makeArrays, serve, type TestServer } from "./fixtures.js";

const MiB = 1024 * 1024;
let dir: string;
let server: TestServer;
const open: TieredCache[] = [];

beforeAll(async () => {
  dir = await makeArrays();
  // A v3 array on a grid this model cannot place, and one whose metadata is not JSON.
  fs.mkdirSync(path.join(dir, "irregular"));
  fs.writeFileSync(
    path.join(dir, "irregular", "zarr.json"),
    JSON.stringify({
      zarr_format: 3,
      node_type: "array",
      shape: [10],
      data_type: "float32",
      chunk_grid: { name: "rectilinear", configuration: { chunk_shapes: [[4, 6]] } },
      chunk_key_encoding: { name: "default" },
      codecs: [{ name: "bytes", configuration: { endian: "little" } }],
      fill_value: 0,
    }),
  );
  fs.mkdirSync(path.join(dir, "broken"));
  fs.writeFileSync(path.join(dir, "broken", "zarr.json"), "{ not json");
  server = await serve(dir);
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
});

function cached(plugin = warming({ strategies: [] })) {
  const cache = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .use(plugin)
    .build();
  open.push(cache);
  return { cache, plugin, store: withCache(new FetchStore(server.url), cache) };
}

const openArray = (store: FetchStore, name: string) => zarr.open(zarr.root(store).resolve(name), { kind: "array" });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isZarrsCacheError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

describe("warmRegion", () => {
  for (const name of ["v2dot", "v2slash", "v3slash", "v3dot"]) {
    it(`${name}: afterwards reading the region makes zero upstream requests`, async () => {
      const { store } = cached();
      const arr = await openArray(store, name);
      const selection = [zarr.slice(0, 6), null];
      const seen: RegionProgress[] = [];
      const result = await warmRegion(arr, selection, { onProgress: (p) => seen.push(p) });
      expect(result).toMatchObject({ total: 6, done: 6, loaded: 6, failed: 0 });
      expect(seen.at(-1)).toMatchObject({ done: 6, total: 6, failed: 0 });
      expect(seen.at(-1)!.bytes).toBeGreaterThan(0);
      server.reset();
      await zarr.get(arr, selection);
      expect(server.stats.requests).toBe(0);
      // Outside the region nothing was loaded.
      await zarr.get(arr, [zarr.slice(8, 10), null]);
      expect(server.stats.requests).toBe(3);
    });
  }

  it("sharded: reads each shard's index and coalesced ranges, then the region reads from the cache", async () => {
    const { store, plugin } = cached();
    const arr = await openArray(store, "sharded");
    server.reset();
    const result = await plugin.warmRegion(arr, [zarr.slice(0, 12), null]);
    // 3 × 4 inner chunks in 4 shards: one range read per shard (its chunks are adjacent), one index read each.
    expect(result).toMatchObject({ total: 12, done: 12, loaded: 12, requests: 4 });
    // Per shard: its index (FetchStore reads a suffix with a HEAD, then a range GET) and one range of chunks.
    expect(server.stats.requests).toBe(4 * 2 + 4);
    expect(plugin.stats().strategies.region).toMatchObject({ issued: 12, loaded: 12 });
    server.reset();
    const values = await zarr.get(arr, [zarr.slice(0, 12), null]);
    expect(server.stats.requests).toBe(0);
    // The bytes cut from the coalesced reads are the right ones.
    const direct = await zarr.get(await openArray(new FetchStore(server.url), "sharded"), [zarr.slice(0, 12), null]);
    expect(Array.from(values.data as Float32Array)).toEqual(Array.from(direct.data as Float32Array));
  });

  it("works on arrays opened over a store extended with cacheExtension (alone or under another extension)", async () => {
    const cache = createCache()
      .tier(memory({ maxBytes: 64 * MiB }))
      .use(warming({ strategies: [] }))
      .build();
    open.push(cache);
    const extended = await zarr.extendStore(new FetchStore(server.url), (s) => cacheExtension(s, { cache }));
    // An outer extension (here one that counts reads) still finds the cache behind it.
    let reads = 0;
    const counting = zarr.defineStoreExtension((inner: zarr.AsyncReadable) => ({
      get: (key: zarr.AbsolutePath, options?: Parameters<zarr.AsyncReadable["get"]>[1]) => (reads++, inner.get(key, options)),
    }));
    const outer = await zarr.extendStore(extended, counting);
    for (const [store, name] of [
      [extended, "v3slash"],
      [outer, "sharded"],
    ] as const) {
      const arr = await openArray(store as unknown as FetchStore, name);
      const result = await warmRegion(arr, null);
      expect(result.failed).toBe(0);
      expect(result.loaded).toBeGreaterThan(0);
      server.reset();
      await zarr.get(arr, null);
      expect(server.stats.requests).toBe(0);
    }
    expect(reads).toBeGreaterThan(0);
  });

  it("a second warmRegion of the same region finds everything cached", async () => {
    const { store } = cached();
    const arr = await openArray(store, "v3slash");
    await warmRegion(arr, null);
    server.reset();
    expect(await warmRegion(arr, null)).toMatchObject({ total: 9, cached: 9, loaded: 0 });
    expect(server.stats.requests).toBe(0);
  });

  it("abort stops new requests at once and rejects with the signal's reason", async () => {
    const { store } = cached();
    const arr = await openArray(store, "scan");
    server.reset();
    const controller = new AbortController();
    let done = 0;
    const warming = warmRegion(arr, null, {
      concurrency: 2,
      signal: controller.signal,
      onProgress: (p) => {
        done = p.done;
        if (p.done === 4) controller.abort(new Error("enough"));
      },
    });
    await expect(warming).rejects.toThrow("enough");
    expect(done).toBeGreaterThanOrEqual(4);
    expect(done).toBeLessThanOrEqual(6);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The 4 finished and at most the 2 loads in flight when it aborted: none of the other 94 chunks.
    expect(server.stats.requests).toBeLessThanOrEqual(6);
  });

  it("refuses bad input with clear errors", async () => {
    const { store } = cached();
    const arr = await openArray(store, "v3slash");
    expect(await codeOf(warmRegion(arr, [zarr.slice(0, 4), 12]))).toMatch(
      /^INVALID_ARGUMENT: warmRegion\(\): selection: index 12 is out of bounds/,
    );
    expect(await codeOf(warmRegion(arr, [null, null, null]))).toMatch(/^INVALID_ARGUMENT: warmRegion\(\): selection has 3 dimensions/);
    const plain = await openArray(new FetchStore(server.url), "v3slash");
    expect(await codeOf(warmRegion(plain, null))).toMatch(
      /^INVALID_ARGUMENT: warmRegion\(\): the array must be a zarrita array opened over a withCache/,
    );
    expect(await codeOf(warmRegion({ store, path: "/irregular" }, null))).toMatch(
      /^UNSUPPORTED: warmRegion\(\): array \/irregular cannot be warmed by region: .*"rectilinear" is not supported/,
    );
    expect(await codeOf(warmRegion({ store, path: "/nothing-here" }, null))).toMatch(
      /^INVALID_ARGUMENT: warmRegion\(\): no array metadata/,
    );
    expect(await codeOf(warmRegion(arr, null, { concurency: 2 } as never))).toMatch(
      /^INVALID_CONFIG: .*"concurency".*did you mean "concurrency"/,
    );
    expect(await codeOf(warmRegion(arr, null, { concurrency: 0 }))).toMatch(
      /^INVALID_CONFIG: warmRegion\(\): option "concurrency" must be a positive integer/,
    );
  });

  it("metadata that does not parse switches warming off for that array, reports an error, and reads go on", async () => {
    const { store, cache } = cached(warming());
    const errors: { operation: string; key?: string }[] = [];
    cache.events.on("error", (e) => errors.push(e));
    const bytes = await store.get("/broken/zarr.json");
    expect(new TextDecoder().decode(bytes)).toBe("{ not json");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.operation).toBe("metadata");
    expect(errors[0]!.key).toContain("/broken/zarr.json");
    // Reading the other arrays (and this file again) still works.
    expect(await store.get("/broken/zarr.json")).toEqual(bytes);
    const arr = await openArray(store, "v3slash");
    expect((await zarr.get(arr, [0, 0])) as unknown).toBeTypeOf("number");
  });
});
