import { createCache, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier } from "@zarrs-cache/redis";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { describeRedis, startRedis, type RedisProcess } from "./helpers/redis-servers.js";
import { type CutMode, type TcpProxy, startProxy } from "./helpers/tcp-proxy.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const version = (n: number) => new Uint8Array(64).fill(n);
/** The bound the issue sets: after the partition heals, no node serves the old value later than this. */
const HEAL_BOUND_MS = 2000;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Short timeouts so that the partition is noticed (and the test runs) quickly. */
const SETTINGS = { keyPrefix: "partition:", commandTimeout: 100, connectTimeout: 300, breaker: { failures: 3, cooldown: 300 } };

interface Setup {
  server: RedisProcess;
  proxy: TcpProxy;
  /** Node A reaches Redis through the proxy, node B directly. */
  a: TieredCache;
  b: TieredCache;
  tierA: RedisTier;
  /** The upstream store both nodes load from. */
  store: Map<string, Uint8Array>;
  read(cache: TieredCache, key: string): Promise<number | undefined>;
  node(url: string, extra?: Parameters<typeof redis>[0]): TieredCache;
}

async function setup(extra: Parameters<typeof redis>[0] = {}): Promise<Setup> {
  const server = await startRedis();
  cleanups.push(() => server.kill());
  const proxy = await startProxy(server.port);
  cleanups.push(() => proxy.close());
  const node = (url: string, more: Parameters<typeof redis>[0] = {}) => {
    const cache = createCache()
      .tier(memory({ maxBytes: 1 << 20 }))
      .tier(redis({ url, ...SETTINGS, ...extra, ...more }))
      .build();
    cleanups.push(() => cache.close());
    return cache;
  };
  const a = node(proxy.url);
  const b = node(server.url);
  const tierA = a.levels[1] as RedisTier;
  await waitFor(() => tierA.busSubscribed && (b.levels[1] as RedisTier).busSubscribed, 3000, "both subscriptions");
  const store = new Map<string, Uint8Array>();
  const read = async (cache: TieredCache, key: string) => (await cache.getOrLoad(key, async () => store.get(key)))?.[0];
  return { server, proxy, a, b, tierA, store, read, node };
}

/** Both nodes read `keys` at v1; B's copy comes from Redis (so Redis and both L1s hold v1). */
async function warm({ a, b, store, read }: Setup, keys: string[]): Promise<void> {
  for (const key of keys) {
    store.set(key, version(1));
    expect(await read(a, key)).toBe(1);
  }
  await a.flush();
  const redisHits = b.levelStats()[1]!.hits;
  for (const key of keys) expect(await read(b, key)).toBe(1);
  expect(b.levelStats()[1]!.hits - redisHits).toBe(keys.length);
}

interface Sample {
  node: string;
  key: string;
  at: number;
  value: number | undefined;
}

/** Reads `keys` on every node for `ms` after `since`, as fast as a loop with 10 ms pauses goes. */
async function sample(s: Setup, nodes: Record<string, TieredCache>, keys: string[], since: number, ms: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  while (performance.now() - since < ms) {
    for (const [name, cache] of Object.entries(nodes)) {
      for (const key of keys) samples.push({ node: name, key, at: performance.now() - since, value: await s.read(cache, key) });
    }
    await sleep(10);
  }
  return samples;
}

/** Asserts the history: nothing but `expected` from HEAL_BOUND_MS on, and enough reads there to mean it. */
function expectNoStaleReadAfterBound(samples: Sample[], expected: (key: string) => number): number {
  const late = samples.filter((s) => s.at >= HEAL_BOUND_MS);
  expect(late.length).toBeGreaterThan(50);
  const stale = late.filter((s) => s.value !== expected(s.key));
  expect(stale, `stale reads after ${HEAL_BOUND_MS} ms: ${JSON.stringify(stale.slice(0, 5))}`).toEqual([]);
  // When the nodes converged: the last read of anything else.
  const wrong = samples.filter((s) => s.value !== expected(s.key));
  return wrong.length === 0 ? 0 : Math.max(...wrong.map((s) => s.at));
}

async function rawGet(server: RedisProcess, key: string): Promise<Buffer | null> {
  const raw = new Redis(server.url);
  try {
    return await raw.getBuffer(`${SETTINGS.keyPrefix}${key}`);
  } finally {
    raw.disconnect();
  }
}

describeRedis("a network partition between one node and Redis", { spawn: true }, () => {
  for (const mode of ["refuse", "blackhole"] as CutMode[]) {
    it(`${mode}: a write on the cut-off node is repaired on healing; no node serves the old value ${HEAL_BOUND_MS} ms later`, async () => {
      const s = await setup();
      const { a, b, tierA, proxy, store } = s;
      await warm(s, ["arr/c/0"]);
      const repaired: number[] = [];
      tierA.events.on("repair", (event) => {
        if (event.state === "repaired") repaired.push(performance.now());
      });

      proxy.cut(mode);
      await a.write("arr/c/0", version(2), () => {
        store.set("arr/c/0", version(2));
      });
      expect(store.get("arr/c/0")?.[0]).toBe(2);
      // The Redis update failed: A remembers the key and never reads it from Redis meanwhile.
      expect(tierA.stats().repairsPending).toBe(1);
      const during = await sample(s, { A: a }, ["arr/c/0"], performance.now(), 800);
      expect(during.every((x) => x.value === 2)).toBe(true);

      proxy.heal();
      const healedAt = performance.now();
      const samples = await sample(s, { A: a, B: b }, ["arr/c/0"], healedAt, HEAL_BOUND_MS + 1500);
      const converged = expectNoStaleReadAfterBound(samples, () => 2);
      const repairedAfter = ((repaired[0] ?? Number.NaN) - healedAt).toFixed(0);
      console.info(`partition (${mode}): repaired ${repairedAfter} ms and converged ${converged.toFixed(0)} ms after healing`);

      expect(tierA.stats().repairsPending).toBe(0);
      expect(tierA.stats().repairsDone).toBeGreaterThanOrEqual(1);
      expect(repaired.length).toBeGreaterThanOrEqual(1);
      // Redis holds nothing older than v2, and a node that starts now reads v2.
      const shared = await rawGet(s.server, "arr/c/0");
      expect(shared === null || shared.at(-1) === 2).toBe(true);
      const c = s.node(s.server.url);
      expect(await s.read(c, "arr/c/0")).toBe(2);
    });
  }

  it("a delete and an invalidate(prefix) on the cut-off node reach Redis and every node after healing", async () => {
    const s = await setup();
    const { a, b, tierA, proxy, store } = s;
    await warm(s, ["gone", "arr/c/0", "arr/c/1", "other/c/0"]);

    proxy.cut("refuse");
    store.set("gone", version(3));
    await a.delete("gone");
    for (const key of ["arr/c/0", "arr/c/1"]) store.set(key, version(3));
    await a.invalidate("arr/");
    expect(tierA.stats().repairsPending).toBe(2);

    proxy.heal();
    const samples = await sample(s, { A: a, B: b }, ["gone", "arr/c/0", "arr/c/1", "other/c/0"], performance.now(), HEAL_BOUND_MS + 1000);
    expectNoStaleReadAfterBound(samples, (key) => (key === "other/c/0" ? 1 : 3));
    expect(tierA.stats().repairsPending).toBe(0);
    // Keys outside the invalidated prefix were left alone.
    expect(b.peek("other/c/0")?.[0]).toBe(1);
  });

  it("more failed writes than repair.maxKeys collapse into their common prefix, which is invalidated as a whole", async () => {
    const s = await setup({ repair: { maxKeys: 2 } });
    const { a, b, tierA, proxy, store } = s;
    const written = ["arr/c/0", "arr/c/1", "arr/c/2", "arr/c/3"];
    await warm(s, [...written, "arr/c/9", "meta/zarr.json"]);
    const pending: string[] = [];
    tierA.events.on("repair", (event) => {
      if (event.state === "pending") pending.push(...event.keys, ...event.prefixes);
    });

    proxy.cut("refuse");
    for (const key of written) {
      await a.write(key, version(2), () => {
        store.set(key, version(2));
      });
    }
    expect(pending).toEqual(expect.arrayContaining(written));
    expect(tierA.stats().repairsCoarsened).toBe(1);
    // Only "arr/c/" is left: keys written after the collapse fall under it.
    expect(tierA.stats().repairsPending).toBe(1);
    // Covered by the prefix: A does not read it from Redis either.
    const missesBefore = tierA.stats().repairMisses;
    expect(await tierA.has("arr/c/9")).toBe(false);
    expect(tierA.stats().repairMisses).toBe(missesBefore + 1);

    proxy.heal();
    const samples = await sample(s, { A: a, B: b }, [...written, "meta/zarr.json"], performance.now(), HEAL_BOUND_MS + 1000);
    expectNoStaleReadAfterBound(samples, (key) => (key === "meta/zarr.json" ? 1 : 2));
    expect(tierA.stats().repairsPending).toBe(0);
    // The coarse repair dropped a key nobody wrote (a miss later, never a wrong value)…
    await waitFor(() => b.peek("arr/c/9") === undefined, 1000, "B to drop arr/c/9");
    expect(await rawGet(s.server, "arr/c/9")).toBeNull();
    // …and nothing outside the prefix.
    expect(b.peek("meta/zarr.json")?.[0]).toBe(1);
  });
});
