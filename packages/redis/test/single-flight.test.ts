import { createCache, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier, type SingleFlightOptions } from "@zarrs-cache/redis";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { SHARED_URL, describeRedis, removeKeys, startRedis, testPrefix } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const open: { close(): Promise<void> }[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
  for (const prefix of prefixes.splice(0)) {
    await removeKeys(prefix);
    await removeKeys(`zarrs-cache:lock:${prefix}`);
  }
});

/** Invalidations from other nodes the caches' Redis tiers passed on since `nodes()` made them (not the resyncs of joining). */
const invalidationCounts = new WeakMap<RedisTier, { count: number }>();
function invalidations(caches: TieredCache[]): number {
  return caches.reduce((n, c) => n + (invalidationCounts.get(c.levels[1] as RedisTier)?.count ?? 0), 0);
}

async function nodes(count: number, singleFlight: SingleFlightOptions | boolean): Promise<TieredCache[]> {
  const keyPrefix = testPrefix("single-flight");
  prefixes.push(keyPrefix);
  const caches = Array.from({ length: count }, () =>
    createCache()
      .tier(memory({ maxBytes: 1 << 20 }))
      .tier(redis({ url: SHARED_URL, keyPrefix, singleFlight }))
      .build(),
  );
  open.push(...caches);
  for (const cache of caches) {
    const counter = { count: 0 };
    invalidationCounts.set(cache.levels[1] as RedisTier, counter);
    (cache.levels[1] as RedisTier).events.on("invalidation", (event) => {
      if (event.source === "remote") counter.count++;
    });
  }
  const deadline = Date.now() + 3000;
  while (!caches.every((c) => (c.levels[1] as RedisTier).busSubscribed)) {
    if (Date.now() > deadline) throw new Error("bus did not subscribe");
    await sleep(5);
  }
  return caches;
}

describeRedis("cross-process single-flight (singleFlight option)", { shared: true }, () => {
  it("four nodes missing the same keys at once load each from upstream once", async () => {
    const caches = await nodes(4, { lockTtl: 2000, poll: 25 });
    let loads = 0;
    const loader = (key: string) => async () => {
      loads++;
      await sleep(60);
      return new TextEncoder().encode(`value of ${key}`);
    };
    const keys = Array.from({ length: 8 }, (_, i) => `arr/c/${i}`);
    const results = await Promise.all(caches.flatMap((cache) => keys.map((key) => cache.getOrLoad(key, loader(key)))));
    results.forEach((value, i) => expect(new TextDecoder().decode(value)).toBe(`value of ${keys[i % keys.length]}`));
    expect(loads).toBe(keys.length);
    const tiers = caches.map((c) => c.levels[1] as RedisTier);
    const total = (name: "locksTaken" | "lockWaitHits" | "lateHits") => tiers.reduce((n, t) => n + t.stats()[name], 0);
    // One winner per key; the three others waited (or, in a narrow race, took the lock just after
    // the winner wrote and found the value on their second look).
    expect(total("locksTaken") - total("lateHits")).toBe(keys.length);
    expect(total("lockWaitHits") + total("lateHits")).toBe(keys.length * 3);
    // Waiters keep what they waited for in L1: the writer's message does not make it "stale".
    for (const cache of caches) for (const key of keys) expect(cache.peek(key)).toBeDefined();
    // Fills wake waiters without invalidating anything, and release every lock.
    for (const tier of tiers) expect(tier.stats().locksHeld).toBe(0);
    expect(invalidations(caches)).toBe(0);
  });

  it("wakes waiters with the writer's bus message instead of waiting for the next poll", async () => {
    const [a, b] = (await nodes(2, { lockTtl: 5000, poll: 2000 })) as [TieredCache, TieredCache];
    const first = a.getOrLoad("k", async () => {
      await sleep(100);
      return new Uint8Array([1]);
    });
    await sleep(20);
    const started = performance.now();
    const second = await b.getOrLoad("k", async () => new Uint8Array([2]));
    expect(second?.[0]).toBe(1);
    // A poll would only come after 2000 ms.
    expect(performance.now() - started).toBeLessThan(1500);
    await first;
  });

  it("never fails a read: when the lock holder's load fails, another node takes the lock over and loads", async () => {
    const [a, b] = (await nodes(2, { lockTtl: 300, wait: 2000, poll: 20 })) as [TieredCache, TieredCache];
    const failing = a
      .getOrLoad("k", async () => {
        await sleep(30);
        throw new Error("upstream down for node A");
      })
      .then(
        () => "resolved",
        (error: Error) => error.message,
      );
    await sleep(10);
    const started = performance.now();
    const value = await b.getOrLoad("k", async () => new Uint8Array([7]));
    const waited = performance.now() - started;
    expect(value?.[0]).toBe(7);
    // At the latest when A's lock expires (lockTtl), well before B's wait runs out; at once when
    // A's cache reports the failed load (loadSettled).
    expect(waited).toBeLessThan(1500);
    expect(await failing).toBe("upstream down for node A");
    expect((b.levels[1] as RedisTier).stats().lockTakeovers).toBe(1);
    expect((b.levels[1] as RedisTier).stats().lockWaitTimeouts).toBe(0);
  });

  it("is off by default: a miss takes no lock", async () => {
    const [a] = (await nodes(1, false)) as [TieredCache];
    await a.getOrLoad("k", async () => new Uint8Array([1]));
    expect((a.levels[1] as RedisTier).stats().locksTaken).toBe(0);
  });

  it("a node never waits on a lock it holds: a retry after a failed load, a get() after a get()", async () => {
    const [a] = (await nodes(1, { lockTtl: 2000, wait: 2000, poll: 25 })) as [TieredCache];
    const tier = a.levels[1] as RedisTier;
    await expect(a.getOrLoad("k", async () => Promise.reject(new Error("upstream down")))).rejects.toThrow("upstream down");
    const started = performance.now();
    expect((await a.getOrLoad("k", async () => new Uint8Array([3])))?.[0]).toBe(3);
    expect(await a.get("other")).toBeUndefined();
    expect(await a.get("other")).toBeUndefined();
    // Without the check each second miss waited the full 2000 ms on this node's own lock.
    expect(tier.stats().lockWaits).toBe(0);
    expect(tier.stats().lockWaitTimeouts).toBe(0);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it("two concurrent misses of one key on one node: the one that did not get the lock does not wait on it", async () => {
    const [a] = (await nodes(1, { lockTtl: 2000, wait: 2000, poll: 25 })) as [TieredCache];
    const tier = a.levels[1] as RedisTier;
    // Both GETs miss before either SET NX lands; the second SET NX fails against our own lock.
    expect(await Promise.all([tier.get("k"), tier.get("k")])).toEqual([undefined, undefined]);
    expect(tier.stats().locksTaken).toBe(1);
    expect(tier.stats().lockWaits).toBe(0);
  });

  it("forgets its locks once they have expired", async () => {
    const [a] = (await nodes(1, { lockTtl: 400, poll: 10 })) as [TieredCache];
    const tier = a.levels[1] as RedisTier;
    // Plain lookups that never write: their locks are never released.
    for (let i = 0; i < 20; i++) await tier.get(`never-loaded/${i}`);
    expect(tier.stats().locksTaken).toBe(20);
    expect(tier.stats().locksHeld).toBe(20);
    await sleep(500);
    expect(tier.stats().locksHeld).toBe(0);
    // Expired ones are pruned on the next miss as well.
    await tier.get("one-more");
    expect(tier.stats().locksHeld).toBe(1);
  });

  it("takes no lock for a lookup that says it will not load ({ load: false })", async () => {
    const [a] = (await nodes(1, true)) as [TieredCache];
    const tier = a.levels[1] as RedisTier;
    expect(await tier.get("k", { load: false })).toBeUndefined();
    expect(tier.stats().locksTaken).toBe(0);
    expect(tier.stats().misses).toBe(1);
    expect(await tier.get("k")).toBeUndefined();
    expect(tier.stats().locksTaken).toBe(1);
  });

  it("rounds a fractional lockTtl up (Redis takes whole milliseconds)", async () => {
    const [a] = (await nodes(1, { lockTtl: 300.5 })) as [TieredCache];
    const tier = a.levels[1] as RedisTier;
    await tier.get("k");
    expect(tier.stats().locksTaken).toBe(1);
    expect(tier.stats().errors).toBe(0);
  });

  it("releases only its own lock: one that expired and was taken by another node stays", async () => {
    const [a, b] = (await nodes(2, { lockTtl: 5000, wait: 50, poll: 10 })) as [TieredCache, TieredCache];
    const [tierA, tierB] = [a.levels[1] as RedisTier, b.levels[1] as RedisTier];
    const lockKey = `zarrs-cache:lock:${prefixes.at(-1)}k`;
    const raw = new Redis(SHARED_URL);
    try {
      await tierA.get("k");
      expect(await raw.exists(lockKey)).toBe(1);
      // A's lock vanishes early (as when it expires in Redis before A's clock says so)…
      await raw.del(lockKey);
      // …and B takes it.
      await tierB.get("k");
      expect(tierB.stats().locksTaken).toBe(1);
      const tokenB = await raw.get(lockKey);
      // A's write must not delete B's lock (the unlock goes out before the publish A waits for).
      await tierA.set("k", new Uint8Array([1]));
      expect(await raw.get(lockKey)).toBe(tokenB);
      // B's own write does release it.
      await tierB.set("k", new Uint8Array([2]));
      expect(await raw.exists(lockKey)).toBe(0);
    } finally {
      raw.disconnect();
    }
  });
});

describeRedis("single-flight on a fresh server (scripts not cached yet)", { spawn: true }, () => {
  it("releases its lock with EVAL when the server does not know the script (NOSCRIPT)", async () => {
    const server = await startRedis();
    const tier = redis({ url: server.url, keyPrefix: "fresh:", singleFlight: true });
    const raw = new Redis(server.url);
    try {
      await tier.get("k");
      expect(await raw.exists("zarrs-cache:lock:fresh:k")).toBe(1);
      await tier.set("k", new Uint8Array([1]), { fill: true });
      const deadline = Date.now() + 2000;
      while ((await raw.exists("zarrs-cache:lock:fresh:k")) === 1 && Date.now() < deadline) await sleep(5);
      expect(await raw.exists("zarrs-cache:lock:fresh:k")).toBe(0);
      expect(tier.stats().errors).toBe(0);
    } finally {
      raw.disconnect();
      await tier.close();
      await server.kill();
    }
  });
});
