import { createCache, isZarrsCacheError, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier } from "@zarrs-cache/redis";
import { afterEach, describe, expect, it } from "vitest";
import { describeRedis, freePort, startRedis, type RedisProcess } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Deterministic bytes per key, so every read can be checked. */
function valueOf(key: string, size = 1024): Uint8Array {
  const out = new Uint8Array(size);
  let x = 7;
  for (let i = 0; i < key.length; i++) x = (x * 31 + key.charCodeAt(i)) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function build(url: string, extra: Parameters<typeof redis>[0] = {}) {
  const tier = redis({ url, keyPrefix: "resilience:", commandTimeout: 200, breaker: { failures: 3, cooldown: 100 }, ...extra });
  // A small L1 so that most reads reach Redis.
  const cache = createCache()
    .tier(memory({ maxBytes: 32 * 1024 }))
    .tier(tier)
    .build();
  const errors: unknown[] = [];
  cache.events.on("error", (event) => errors.push(event.error));
  cleanups.push(() => cache.close());
  let loads = 0;
  const read = async (key: string) => {
    const value = await cache.getOrLoad(key, async () => {
      loads++;
      return valueOf(key);
    });
    expect(Buffer.compare(value!, valueOf(key))).toBe(0);
  };
  return { tier, cache, errors, read, loads: () => loads };
}

/** Time of the slowest of `count` calls of `fn`, run one after another. */
async function slowest(count: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await fn(i);
    worst = Math.max(worst, performance.now() - t);
  }
  return worst;
}

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    expect(isZarrsCacheError(error)).toBe(true);
    return (error as { code: string }).code;
  }
}

describeRedis("redis tier: fail fast, never hang, recover", { spawn: true }, () => {
  describe("Redis unreachable at start", () => {
    it("builds, serves every read from upstream quickly, opens the breaker, and recovers once Redis appears", async () => {
      const port = await freePort();
      const { tier, cache, errors, read, loads } = build(`redis://127.0.0.1:${port}`);
      const resyncs: string[] = [];
      tier.events.on("invalidation", (event) => resyncs.push(event.source));

      const worst = await slowest(40, (i) => read(`a/${i}`));
      expect(loads()).toBe(40);
      // Each read waits at most the command timeout (200 ms); nothing hangs for a connect timeout.
      expect(worst).toBeLessThan(1000);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => isZarrsCacheError(e, "TIER_UNAVAILABLE") || isZarrsCacheError(e, "TIMEOUT"))).toBe(true);
      expect(tier.stats().breakerOpens).toBeGreaterThanOrEqual(1);
      expect(tier.breakerState).not.toBe("closed");

      // Direct tier calls reject with typed errors rather than hang.
      for (const call of [tier.get("x"), tier.set("x", new Uint8Array(1)), tier.has("x"), tier.delete("x")]) {
        expect(["TIER_UNAVAILABLE", "TIMEOUT"]).toContain(await codeOf(call));
      }

      const server = await startRedis({ port });
      cleanups.push(() => server.kill());
      await waitFor(() => tier.breakerState === "closed", 5000, "the breaker to close");
      await cache.set("after", new Uint8Array([9]));
      expect((await tier.get("after"))?.value[0]).toBe(9);
      // The bus never had a subscription before: it asks the cache to drop L1 once subscribed.
      await waitFor(() => resyncs.length > 0, 5000, "a resync");
      expect(cache.stats().loadErrors).toBe(0);
    });

    it("works the same with Cluster startup nodes nobody answers: reads succeed, clear() fails loudly", async () => {
      const ports = [await freePort(), await freePort()];
      const tier = redis({ cluster: ports.map((port) => ({ host: "127.0.0.1", port })), keyPrefix: "resilience:", commandTimeout: 200 });
      const cache = createCache()
        .tier(memory({ maxBytes: 1 << 20 }))
        .tier(tier)
        .build();
      cleanups.push(() => cache.close());
      const worst = await slowest(10, (i) => cache.getOrLoad(`c/${i}`, async () => valueOf(`c/${i}`)));
      expect(worst).toBeLessThan(1000);
      expect(cache.stats().loadErrors).toBe(0);
      expect(["TIER_UNAVAILABLE", "TIMEOUT"]).toContain(await codeOf(tier.clear()));
      const listing = (async () => {
        for await (const key of tier.keys()) void key;
      })();
      expect(["TIER_UNAVAILABLE", "TIMEOUT"]).toContain(await codeOf(listing));
    });

    it("rejects a thousand concurrent calls quickly instead of queueing them", async () => {
      const port = await freePort();
      const tier = redis({ url: `redis://127.0.0.1:${port}`, keyPrefix: "resilience:", commandTimeout: 200 });
      cleanups.push(() => tier.close());
      await sleep(50);
      const started = performance.now();
      const codes = await Promise.all(Array.from({ length: 1000 }, (_, i) => codeOf(tier.get(`k${i}`))));
      expect(performance.now() - started).toBeLessThan(1000);
      expect(new Set(codes)).toEqual(new Set(["TIER_UNAVAILABLE"]));
      expect(tier.stats().rejected + tier.stats().errors).toBe(1000);
    });
  });

  describe("Redis killed and restarted during a read loop", () => {
    it("fails no read, opens the breaker while down and closes it after the restart", async () => {
      const server: RedisProcess = await startRedis();
      let current = server;
      cleanups.push(() => current.kill());
      const { tier, cache, errors, read } = build(server.url);
      const breakerStates: string[] = [];
      tier.events.on("breaker", (event) => breakerStates.push(event.state));

      let reads = 0;
      const loop = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) await read(`k/${reads++ % 150}`);
      };
      await loop(300);
      const redisHitsBefore = cache.levelStats()[1]!.hits;
      expect(redisHitsBefore).toBeGreaterThan(0);

      await server.kill();
      await loop(600);
      expect(tier.breakerState).not.toBe("closed");
      expect(errors.length).toBeGreaterThan(0);

      current = await startRedis({ port: server.port });
      await loop(200);
      await waitFor(() => tier.breakerState === "closed", 5000, "the breaker to close");
      const redisHitsAfterRestart = cache.levelStats()[1]!.hits;
      await loop(400);
      expect(cache.levelStats()[1]!.hits).toBeGreaterThan(redisHitsAfterRestart);

      expect(reads).toBeGreaterThan(100);
      expect(cache.stats().loadErrors).toBe(0);
      expect(tier.stats().breakerOpens).toBeGreaterThanOrEqual(1);
      expect(breakerStates).toContain("open");
      expect(breakerStates.at(-1)).toBe("closed");
    });
  });

  describe("Redis hung (SIGSTOP)", () => {
    it("times out each call within commandTimeout, opens the breaker, serves reads from upstream, and recovers", async () => {
      const server = await startRedis();
      cleanups.push(() => server.kill());
      const { tier, cache, read } = build(server.url);
      await cache.set("warm", valueOf("warm"));

      server.pause();
      cleanups.push(() => server.resume());
      const started = performance.now();
      expect(await codeOf(tier.get("warm"))).toBe("TIMEOUT");
      expect(performance.now() - started).toBeLessThan(1000);
      expect(tier.stats().timeouts).toBe(1);

      const worst = await slowest(20, (i) => read(`slow/${i}`));
      expect(worst).toBeLessThan(1000);
      expect(tier.breakerState).not.toBe("closed");
      // With the breaker open, calls are refused at once.
      const refused = performance.now();
      expect(await codeOf(tier.get("warm"))).toBe("TIER_UNAVAILABLE");
      expect(performance.now() - refused).toBeLessThan(100);

      server.resume();
      await waitFor(() => tier.breakerState === "closed", 5000, "the breaker to close");
      expect(Buffer.compare((await tier.get("warm"))!.value, valueOf("warm"))).toBe(0);
      expect(cache.stats().loadErrors).toBe(0);
    });
  });

  describe("the bus after a restart", () => {
    it("resubscribes and drops the upper tiers, since messages may have been missed", async () => {
      const server = await startRedis();
      let current = server;
      cleanups.push(() => current.kill());
      const caches: TieredCache[] = [];
      for (let i = 0; i < 2; i++) {
        const tier = redis({ url: server.url, keyPrefix: "bus-restart:", commandTimeout: 200, breaker: { failures: 3, cooldown: 100 } });
        caches.push(
          createCache()
            .tier(memory({ maxBytes: 1 << 20 }))
            .tier(tier)
            .build(),
        );
      }
      cleanups.push(() => Promise.all(caches.map((c) => c.close())));
      const [a, b] = caches as [TieredCache, TieredCache];
      const tierB = b.levels[1] as RedisTier;
      await waitFor(() => tierB.busSubscribed, 3000, "the subscription");

      await b.set("k", new Uint8Array([1]));
      expect(b.peek("k")?.[0]).toBe(1);
      await server.kill();
      await waitFor(() => !tierB.busSubscribed, 3000, "the subscriber to notice");
      current = await startRedis({ port: server.port });
      await waitFor(() => tierB.busSubscribed, 5000, "the resubscription");
      await waitFor(() => b.peek("k") === undefined, 1000, "L1 to be dropped");
      expect(tierB.stats().resyncs).toBeGreaterThanOrEqual(1);

      // And the bus works again.
      const tierA = a.levels[1] as RedisTier;
      await waitFor(() => tierA.client.status === "ready" && tierA.busSubscribed, 5000, "node A to reconnect");
      await b.set("j", new Uint8Array([1]));
      await a.set("j", new Uint8Array([2]));
      await waitFor(() => b.peek("j") === undefined, 1000, "the invalidation");
    });
  });
});
