// Prefetch as plugins use it: not demand (no hits or misses counted, events marked), demand first,
// priority, a concurrency bound, per-key outcomes, target tiers, and readAhead / holds.
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { createCache, isZarrsCacheError, type TieredCache } from "../src/index.js";

const MiB = 1024 * 1024;
const open: TieredCache[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function setup(tiers = 1) {
  let builder = createCache();
  for (let i = 0; i < tiers; i++) builder = builder.tier(memory({ maxBytes: MiB, name: `l${i + 1}` }));
  const cache = builder.build();
  open.push(cache);
  const started: string[] = [];
  const pending = new Map<string, () => void>();
  cache.registerLoader("ds:", (key) => {
    started.push(key);
    return new Promise((resolve) => pending.set(key, () => resolve(new Uint8Array(key.length))));
  });
  const release = (key: string) => pending.get(key)!();
  return { cache, started, release };
}

describe("prefetch is not demand", () => {
  it("counts no hit, miss or load-as-miss, and marks its events", async () => {
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .build();
    open.push(cache);
    cache.registerLoader("ds:", async (key) => new Uint8Array(key.length));
    const events: string[] = [];
    for (const type of ["hit", "miss", "load"] as const) cache.events.on(type, (e) => events.push(`${type}:${e.origin ?? "demand"}`));
    const outcomes = await cache.prefetch(["ds:/a", "ds:/b"]);
    expect(outcomes).toEqual([
      { key: "ds:/a", status: "loaded", bytes: 5, late: false },
      { key: "ds:/b", status: "loaded", bytes: 5, late: false },
    ]);
    expect(await cache.prefetch(["ds:/a", "other:/x"])).toMatchObject([{ status: "cached" }, { status: "unknown" }]);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0 });
    expect([...events].sort()).toEqual(["load:prefetch", "load:prefetch", "miss:prefetch", "miss:prefetch"]);
    await cache.getOrLoad("ds:/a", async () => new Uint8Array(1));
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 0 });
    expect(events.at(-1)).toBe("hit:demand");
  });

  it("a reader joining a prefetch's load makes it late and demand", async () => {
    const { cache, release } = setup();
    const joins: string[] = [];
    cache.events.on("join", (e) => joins.push(e.flight));
    const warming = cache.prefetch(["ds:/a"]);
    await sleep(1);
    const reader = cache.getOrLoad("ds:/a", async () => new Uint8Array(1));
    release("ds:/a");
    expect((await reader)?.byteLength).toBe(5);
    expect(await warming).toMatchObject([{ status: "loaded", late: true }]);
    expect(joins).toEqual(["prefetch"]);
  });
});

describe("demand first", () => {
  it("prefetches wait while a demand load is upstream, then start by priority", async () => {
    const { cache, started, release } = setup();
    const demand = cache.getOrLoad("ds:/demand", async () => (await sleep(20), new Uint8Array(1)));
    await sleep(1);
    const low = cache.prefetch(["ds:/low"], { priority: 0 });
    const high = cache.prefetch(["ds:/high"], { priority: 5 });
    await sleep(5);
    expect(started).toEqual([]); // the demand load is still upstream
    await demand;
    await sleep(1);
    expect(started).toEqual(["ds:/high", "ds:/low"]);
    release("ds:/high");
    release("ds:/low");
    await Promise.all([low, high]);
  });

  it("background loads (priority below 0) go one at a time while demand is recent, then at full concurrency", async () => {
    const { cache, started, release } = setup();
    // A reader that keeps missing: a demand load of about 100 ms has just ended.
    await cache.getOrLoad("ds:/demand", async () => (await sleep(100), new Uint8Array(1)));
    const bulk = cache.prefetch(["ds:/0", "ds:/1", "ds:/2", "ds:/3"], { priority: -1, concurrency: 4 });
    const strategy = cache.prefetch(["ds:/next"], { priority: 0 });
    await sleep(1);
    // The strategy's prefetch is not held back; of the bulk, one load is upstream.
    expect([...started].sort()).toEqual(["ds:/0", "ds:/next"]);
    release("ds:/0");
    await sleep(1);
    expect(started).toContain("ds:/1");
    expect(started).not.toContain("ds:/2");
    // Once demand has been quiet for four times its load time, the rest start together.
    await sleep(800);
    expect(started).toEqual(expect.arrayContaining(["ds:/2", "ds:/3"]));
    for (const key of ["ds:/1", "ds:/2", "ds:/3", "ds:/next"]) release(key);
    expect((await bulk).map((o) => o.status)).toEqual(["loaded", "loaded", "loaded", "loaded"]);
    await strategy;
  });

  it("bounds a call's loads by its concurrency", async () => {
    const { cache, started, release } = setup();
    const keys = Array.from({ length: 6 }, (_, i) => `ds:/${i}`);
    const all = cache.prefetch(keys, { concurrency: 2 });
    await sleep(1);
    expect(started).toEqual(["ds:/0", "ds:/1"]);
    release("ds:/0");
    await sleep(1);
    expect(started).toEqual(["ds:/0", "ds:/1", "ds:/2"]);
    for (const key of keys.slice(1)) {
      await sleep(1);
      release(key);
    }
    expect((await all).map((o) => o.status)).toEqual(keys.map(() => "loaded"));
  });

  it("an abort cancels what has not started and what nobody else waits for", async () => {
    const { cache, started } = setup();
    const controller = new AbortController();
    const all = cache.prefetch(["ds:/a", "ds:/b", "ds:/c"], { concurrency: 1, signal: controller.signal });
    await sleep(1);
    controller.abort();
    expect((await all).map((o) => o.status)).toEqual(["cancelled", "cancelled", "cancelled"]);
    expect(started).toEqual(["ds:/a"]);
  });
});

describe("targets, readAhead and holds", () => {
  it('"lower" leaves L1 alone; "all" fills it', async () => {
    const cache = createCache()
      .tier(memory({ maxBytes: MiB, name: "l1" }))
      .tier(memory({ maxBytes: MiB, name: "l2" }))
      .build();
    open.push(cache);
    cache.registerLoader("ds:", async () => new Uint8Array(3));
    await cache.prefetch(["ds:/a"], { target: "lower" });
    await cache.flush();
    expect(cache.holds("ds:/a")).toBe(false);
    expect(await cache.levels[1]!.get("ds:/a")).toBeDefined();
    await cache.prefetch(["ds:/b"]);
    expect(cache.holds("ds:/b")).toBe(true);
  });

  it("readAhead reads through the cache without counting; holds answers from L1", async () => {
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .build();
    open.push(cache);
    let loads = 0;
    cache.registerLoader("ds:", async () => (loads++, new Uint8Array([7])));
    expect(cache.holds("ds:/m")).toBe(false);
    expect(await cache.readAhead("ds:/m")).toEqual(new Uint8Array([7]));
    expect(await cache.readAhead("ds:/m")).toEqual(new Uint8Array([7]));
    expect(loads).toBe(1);
    expect(cache.holds("ds:/m")).toBe(true);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0 });
  });

  it("refuses bad prefetch options", async () => {
    const { cache } = setup();
    const message = async (p: Promise<unknown>) =>
      p.then(
        () => "no error",
        (e) => (isZarrsCacheError(e) ? `${e.code}: ${e.message}` : String(e)),
      );
    expect(await message(cache.prefetch([], { priority: Number.NaN }))).toMatch(
      /^INVALID_ARGUMENT: prefetch\(\): option "priority" must be a finite number/,
    );
    expect(await message(cache.prefetch([], { concurrency: 0 }))).toMatch(/option "concurrency" must be a positive integer/);
    expect(await message(cache.prefetch([], { target: "l1" as never }))).toMatch(/option "target" must be "all" or "lower"/);
    expect(await message(cache.prefetch([], { concurency: 1 } as never))).toMatch(
      /^INVALID_ARGUMENT: .*"concurency".*did you mean "concurrency"/,
    );
  });
});
