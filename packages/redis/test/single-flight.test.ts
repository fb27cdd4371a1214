import { createCache, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier, type SingleFlightOptions } from "@zarrs-cache/redis";
import { afterEach, expect, it } from "vitest";
import { SHARED_URL, describeRedis, removeKeys, testPrefix } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const open: TieredCache[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
  for (const prefix of prefixes.splice(0)) {
    await removeKeys(prefix);
    await removeKeys(`zarrs-cache:lock:${prefix}`);
  }
});

async function nodes(count: number, singleFlight: SingleFlightOptions | boolean): Promise<TieredCache[]> {
  const keyPrefix = testPrefix("single-flight");
  prefixes.push(keyPrefix);
  const caches = Array.from({ length: count }, () =>
    createCache().tier(memory({ maxBytes: 1 << 20 })).tier(redis({ url: SHARED_URL, keyPrefix, singleFlight })).build(),
  );
  open.push(...caches);
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

  it("never fails a read: when the lock holder's load fails, the others load after the bounded wait", async () => {
    const [a, b] = (await nodes(2, { lockTtl: 300, wait: 300, poll: 20 })) as [TieredCache, TieredCache];
    const failing = a
      .getOrLoad("k", async () => {
        await sleep(30);
        throw new Error("upstream down for node A");
      })
      .then(() => "resolved", (error: Error) => error.message);
    await sleep(10);
    const started = performance.now();
    const value = await b.getOrLoad("k", async () => new Uint8Array([7]));
    const waited = performance.now() - started;
    expect(value?.[0]).toBe(7);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2000);
    expect(await failing).toBe("upstream down for node A");
    expect((b.levels[1] as RedisTier).stats().lockWaitTimeouts).toBe(1);
  });

  it("is off by default: a miss takes no lock", async () => {
    const [a] = (await nodes(1, false)) as [TieredCache];
    await a.getOrLoad("k", async () => new Uint8Array([1]));
    expect((a.levels[1] as RedisTier).stats().locksTaken).toBe(0);
  });
});
