import { createCache, TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier, type RedisTierOptions } from "@zarrs-cache/redis";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { SHARED_URL, describeRedis, removeKeys, testPrefix } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const open: { close(): Promise<void> }[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const item of open.splice(0)) await item.close();
  for (const prefix of prefixes.splice(0)) {
    await removeKeys(prefix);
    await removeKeys(`zarrs-cache:lock:${prefix}`);
  }
});

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * Redis tiers of one namespace, as separate nodes would have. The poll interval and the wait are
 * far longer than any test runs: only a release (message or poll) can end a wait in time.
 */
async function tiers(count: number, extra: RedisTierOptions = {}): Promise<{ made: RedisTier[]; lockKey: (key: string) => string }> {
  const keyPrefix = testPrefix("lock-release");
  prefixes.push(keyPrefix);
  const made = Array.from({ length: count }, () =>
    redis({ url: SHARED_URL, keyPrefix, singleFlight: { lockTtl: 20_000, wait: 20_000, poll: 10_000 }, ...extra }),
  );
  open.push(...made);
  if (extra.bus !== false) await waitFor(() => made.every((t) => t.busSubscribed), 3000, "the subscriptions");
  return { made, lockKey: (key) => `zarrs-cache:lock:${keyPrefix}${key}` };
}

/**
 * Starts a loading `get` on `tier` that waits for another node's lock; resolves once it waits,
 * with `done`: its result and how long it took.
 */
async function waitingGet(tier: RedisTier, key: string) {
  const waitsBefore = tier.stats().lockWaits;
  const started = performance.now();
  const done = tier.get(key).then((entry) => ({ entry, ms: performance.now() - started }));
  await waitFor(() => tier.stats().lockWaits > waitsBefore, 2000, "the get to wait on the lock");
  return { done };
}

describeRedis("single-flight lock of a load that filled nothing (loadSettled)", { shared: true }, () => {
  for (const outcome of ["failed", "aborted", "uncached"] as const) {
    it(`${outcome}: the lock is released at once and a waiting node takes it over and loads`, async () => {
      const { made, lockKey } = await tiers(2);
      const [a, b] = made as [RedisTier, RedisTier];
      // A loading miss on A takes the lock; B's miss waits on it.
      expect(await a.get("k")).toBeUndefined();
      expect(a.stats().locksHeld).toBe(1);
      const waiting = await waitingGet(b, "k");

      a.loadSettled("k", outcome);
      const { entry, ms } = await waiting.done;
      // B goes upstream itself; its wait (20 s) and poll (10 s) never came into it.
      expect(entry).toBeUndefined();
      expect(ms).toBeLessThan(5000);
      expect(a.stats().locksAbandoned).toBe(1);
      expect(a.stats().locksHeld).toBe(0);
      expect(b.stats().lockTakeovers).toBe(1);
      expect(b.stats().lockWaitTimeouts).toBe(0);
      // The lock is B's now: a third miss would wait on B's load, not start another.
      expect(b.stats().locksHeld).toBe(1);
      const raw = new Redis(SHARED_URL);
      try {
        expect(await raw.exists(lockKey("k"))).toBe(1);
      } finally {
        raw.disconnect();
      }
    });
  }

  it("with several nodes waiting, exactly one takes the released lock over; the others get its value", async () => {
    const [a, b, c] = (await tiers(3)).made as [RedisTier, RedisTier, RedisTier];
    expect(await a.get("k")).toBeUndefined();
    const waitB = (await waitingGet(b, "k")).done;
    const waitC = (await waitingGet(c, "k")).done;
    a.loadSettled("k", "failed");
    const [first, taker, other] = await Promise.race([
      waitB.then((result) => [result, b, waitC] as const),
      waitC.then((result) => [result, c, waitB] as const),
    ]);
    expect(first.entry).toBeUndefined();
    expect(b.stats().lockTakeovers + c.stats().lockTakeovers).toBe(1);
    // The taker loads and fills; the other waiter is woken with the value.
    await taker.set("k", new Uint8Array([5]), { fill: true });
    const second = await other;
    expect(second.entry?.value[0]).toBe(5);
    expect(second.ms).toBeLessThan(5000);
  });

  it("without the bus, a waiting node finds the released lock on its next poll", async () => {
    const pollOnly = { bus: false, singleFlight: { lockTtl: 20_000, wait: 20_000, poll: 50 } };
    const [a, b] = (await tiers(2, pollOnly)).made as [RedisTier, RedisTier];
    expect(await a.get("k")).toBeUndefined();
    const waiting = await waitingGet(b, "k");
    a.loadSettled("k", "failed");
    const { entry, ms } = await waiting.done;
    expect(entry).toBeUndefined();
    expect(ms).toBeLessThan(5000);
    expect(b.stats().lockTakeovers).toBe(1);
  });

  it("a node that died holding a lock holds up the others only until the lock expires", async () => {
    const [a, b] = (await tiers(2, { singleFlight: { lockTtl: 300, wait: 20_000, poll: 20 } })).made as [RedisTier, RedisTier];
    expect(await a.get("k")).toBeUndefined();
    // A never fills nor settles: as if its process had been killed.
    const { entry, ms } = await (await waitingGet(b, "k")).done;
    expect(entry).toBeUndefined();
    expect(ms).toBeLessThan(5000);
    expect(b.stats().lockTakeovers).toBe(1);
    expect(b.stats().lockWaitTimeouts).toBe(0);
  });

  it("does nothing (and never throws) for a key whose lock it does not hold, a bad key, or after close()", async () => {
    const { made, lockKey } = await tiers(2);
    const [a, b] = made as [RedisTier, RedisTier];
    expect(await b.get("k")).toBeUndefined();
    const published = a.stats().published;
    a.loadSettled("k", "failed");
    a.loadSettled(42 as unknown as string, "failed");
    await sleep(50);
    expect(a.stats().locksAbandoned).toBe(0);
    expect(a.stats().published).toBe(published);
    const raw = new Redis(SHARED_URL);
    try {
      // B's lock is untouched.
      expect(await raw.exists(lockKey("k"))).toBe(1);
    } finally {
      raw.disconnect();
    }
    await a.close();
    expect(() => a.loadSettled("k", "failed")).not.toThrow();
  });
});

describeRedis("single-flight through a TieredCache: a failed load releases its lock", { shared: true }, () => {
  it("the other node's waiting read loads at once, not after lockTtl or wait", async () => {
    const keyPrefix = testPrefix("lock-release-cache");
    prefixes.push(keyPrefix);
    const singleFlight = { lockTtl: 20_000, wait: 20_000, poll: 10_000 };
    const [a, b] = [0, 1].map(() =>
      createCache()
        .tier(memory({ maxBytes: 1 << 20 }))
        .tier(redis({ url: SHARED_URL, keyPrefix, singleFlight }))
        .build(),
    );
    open.push(a!, b!);
    const tierB = b!.levels[1] as RedisTier;
    await waitFor(() => (a!.levels[1] as RedisTier).busSubscribed && tierB.busSubscribed, 3000, "the subscriptions");

    const failing = a!.getOrLoad("k", async () => {
      await sleep(100);
      throw new Error("upstream down for node A");
    });
    failing.catch(() => undefined);
    await waitFor(() => (a!.levels[1] as RedisTier).stats().locksHeld === 1, 2000, "A to take the lock");
    const started = performance.now();
    const value = await b!.getOrLoad("k", async () => new Uint8Array([7]));
    expect(value?.[0]).toBe(7);
    expect(performance.now() - started).toBeLessThan(5000);
    await expect(failing).rejects.toThrow("upstream down for node A");
    expect(tierB.stats().lockTakeovers).toBe(1);
  });
});
