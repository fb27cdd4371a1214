// Neighbour and predictive warming over real arrays of every key shape, served over HTTP: every
// request lands on the array's grid, and what was warmed is then read with no upstream request.
import { createCache, type TieredCache, zarrArray } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { FetchStore } from "@zarrita/storage";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as zarr from "zarrita";
import { neighbor, predictive, warming, type WarmingPlugin } from "../src/index.js";
import { chunkPaths, makeArrays, serve, type TestServer } from "./fixtures.js";

const MiB = 1024 * 1024;
let dir: string;
let server: TestServer;
const open: TieredCache[] = [];

beforeAll(async () => {
  dir = await makeArrays();
  server = await serve(dir);
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
});

function setup(plugin: WarmingPlugin) {
  const cache = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .use(plugin)
    .build();
  open.push(cache);
  const store = withCache(new FetchStore(server.url), cache);
  return { cache, store };
}

async function openArray(store: FetchStore, name: string) {
  return zarr.open(zarr.root(store).resolve(name), { kind: "array" });
}

/** The model of an array, from its metadata file on disk. */
function modelOf(name: string) {
  const file = ["zarr.json", ".zarray"].map((f) => path.join(dir, name, f)).find((f) => fs.existsSync(f))!;
  return zarrArray(fs.readFileSync(file), { path: `/${name}` });
}

/** Reads one chunk of a 2-d array (element box of the chunk). */
function readChunk(arr: zarr.Array<zarr.DataType, FetchStore>, [i, j]: number[]) {
  const [ci, cj] = arr.chunks;
  return zarr.get(arr, [zarr.slice(i! * ci!, (i! + 1) * ci!), zarr.slice(j! * cj!, (j! + 1) * cj!)]);
}

describe("zero out-of-grid requests", () => {
  for (const name of ["v2dot", "v2slash", "v3slash", "v3dot", "sharded"]) {
    it(`${name}: neighbours at distance 2 and predictions stay on the grid`, async () => {
      const plugin = warming({ strategies: [neighbor({ distance: 2 }), predictive({ minConfidence: 0.5 })] });
      const { store } = setup(plugin);
      const arr = await openArray(store, name);
      const model = modelOf(name);
      server.reset();
      const grid = model.chunkGrid.shape;
      // The corners and edges first (neighbours reach past them), then a scan running off the end.
      for (const chunk of [
        [0, 0],
        [0, grid[1]! - 1],
        [grid[0]! - 1, 0],
        [grid[0]! - 1, grid[1]! - 1],
      ]) {
        await readChunk(arr, chunk);
        await plugin.idle();
      }
      for (let j = 0; j < grid[1]!; j++) await readChunk(arr, [grid[0]! - 1, j]);
      await plugin.idle();
      const stats = plugin.stats().strategies;
      expect(stats.neighbor!.issued).toBeGreaterThan(0);
      const requested = chunkPaths(server);
      expect(requested.length).toBeGreaterThan(0);
      for (const p of requested) expect(model.parseKey(p), p).toBeDefined();
      expect(server.stats.notFound).toBe(0);
      // Everything on the grid is now cached: reading the whole array asks upstream for nothing.
      server.reset();
      await zarr.get(arr);
      expect(server.stats.requests).toBe(0);
    });
  }
});

describe("neighbor()", () => {
  it("loads the chunks around a read, clipped at the grid's edge, and reading them costs no request", async () => {
    const plugin = warming({ strategies: [neighbor()] });
    const { store } = setup(plugin);
    const arr = await openArray(store, "v3slash");
    server.reset();
    await readChunk(arr, [0, 0]);
    await plugin.idle();
    expect(chunkPaths(server)).toEqual(["/v3slash/c/0/0", "/v3slash/c/0/1", "/v3slash/c/1/0", "/v3slash/c/1/1"]);
    expect(plugin.stats().strategies.neighbor).toMatchObject({ issued: 3, loaded: 3 });
    server.reset();
    for (const chunk of [
      [0, 1],
      [1, 0],
      [1, 1],
    ])
      await readChunk(arr, chunk);
    const before = chunkPaths(server);
    // Reading (1,1) asked for its own neighbours; the three reads themselves came from the cache.
    expect(before).not.toContain("/v3slash/c/0/1");
    expect(before).not.toContain("/v3slash/c/1/1");
    expect(plugin.stats().strategies.neighbor!.used).toBe(3);
  });

  it("along chosen dimensions only", async () => {
    const plugin = warming({ strategies: [neighbor({ dims: [0] })] });
    const { store } = setup(plugin);
    const arr = await openArray(store, "v3slash");
    server.reset();
    await readChunk(arr, [1, 1]);
    await plugin.idle();
    expect(chunkPaths(server)).toEqual(["/v3slash/c/0/1", "/v3slash/c/1/1", "/v3slash/c/2/1"]);
  });

  it("sharded: prefetches the inner chunks' exact ranges zarrita then reads from the cache", async () => {
    const plugin = warming({ strategies: [neighbor()] });
    const { store } = setup(plugin);
    const arr = await openArray(store, "sharded");
    await readChunk(arr, [1, 1]); // inner chunk (1,1) of shard (0,0)
    await plugin.idle();
    // Neighbours (0..2, 0..2): shard (0,0) and, for row/column 2, shards (0,1), (1,0), (1,1).
    expect(plugin.stats().strategies.neighbor).toMatchObject({ issued: 8, loaded: 8 });
    server.reset();
    for (let i = 0; i <= 2; i++) for (let j = 0; j <= 2; j++) await readChunk(arr, [i, j]);
    expect(server.stats.requests).toBe(0);
  });
});

describe("predictive()", () => {
  async function scan(order: number[][], options = {}) {
    const plugin = warming({ strategies: [predictive(options)] });
    const { store } = setup(plugin);
    const arr = await openArray(store, "scan");
    server.reset();
    for (const chunk of order) await readChunk(arr, chunk);
    await plugin.idle();
    return { plugin, requests: chunkPaths(server).length, stats: plugin.stats().strategies.predictive! };
  }
  const cOrder = Array.from({ length: 100 }, (_, i) => [Math.floor(i / 10), i % 10]);

  it("follows a C-order scan: most reads come from prefetches, nothing past the end is asked for", async () => {
    const { requests, stats } = await scan(cOrder);
    expect(requests).toBe(100);
    expect(stats.used).toBeGreaterThanOrEqual(90);
    expect(stats.loaded).toBeLessThanOrEqual(100);
  });

  it("follows a reverse scan and a scan down a column (stride of a row)", async () => {
    const reverse = await scan([...cOrder].reverse());
    expect(reverse.stats.used).toBeGreaterThanOrEqual(90);
    const fortran = Array.from({ length: 100 }, (_, i) => [i % 10, Math.floor(i / 10)]);
    const down = await scan(fortran);
    // Each wrap to the next column costs a few reads before the stride is trusted again.
    expect(down.stats.used).toBeGreaterThanOrEqual(60);
    expect(down.requests).toBe(100);
  });

  it("follows two interleaved streams", async () => {
    const a = cOrder.slice(0, 40);
    const b = cOrder.slice(60, 100);
    const interleaved = a.flatMap((chunk, i) => [chunk, b[i]!]);
    const { stats } = await scan(interleaved);
    expect(stats.used).toBeGreaterThanOrEqual(60);
  });

  it("stays quiet on reads with no pattern", async () => {
    // A fixed shuffle (seeded LCG), so the test cannot pass or fail by chance.
    let seed = 12345;
    const shuffled = [...cOrder].sort(() => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5);
    const { stats } = await scan(shuffled);
    expect(stats.issued).toBeLessThanOrEqual(5);
  });
});
