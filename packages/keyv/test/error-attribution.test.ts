import { EventEmitter } from "node:events";
import KeyvRedis, { createClient } from "@keyv/redis";
import { isZarrsCacheError } from "@zarrs-cache/core";
import { keyvTier } from "@zarrs-cache/keyv";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { REDIS_URL, redisReachable, uniqueNamespace, whenRedis } from "./redis-env.js";

const reachable = await redisReachable();

/**
 * A store adapter that, like older adapters, has no `throwOnErrors` switch and reports a failed
 * write only as an 'error' event plus a normal return. `emitDuringSet` fires an unrelated event
 * while a write is in flight.
 */
class SwallowingAdapter extends EventEmitter {
  readonly map = new Map<string, unknown>();
  failWrites = false;
  emitDuringSet: Error | undefined;
  async get(key: string) {
    return this.map.get(key);
  }
  async set(key: string, value: unknown) {
    if (this.emitDuringSet) this.emit("error", this.emitDuringSet);
    if (this.failWrites) {
      this.emit("error", new Error("disk full"));
      return undefined;
    }
    this.map.set(key, value);
    return undefined;
  }
  async delete(key: string) {
    return this.map.delete(key);
  }
  async clear() {
    this.map.clear();
  }
}

describe("attributing 'error' events to calls (an adapter without throwOnErrors)", () => {
  it("still fails a write the adapter swallowed", async () => {
    const adapter = new SwallowingAdapter();
    const tier = keyvTier(new Keyv({ store: adapter, namespace: "zc" }));
    adapter.failWrites = true;
    const error = await tier.set("k", Uint8Array.of(1)).catch((e: unknown) => e);
    expect(isZarrsCacheError(error, "IO_ERROR")).toBe(true);
    expect(String((error as Error).message)).toMatch(/disk full/);
    expect(tier.stats()).toMatchObject({ errors: 1, sets: 0 });
  });

  it("never fails a write over a WRONGTYPE event, which only a read can cause", async () => {
    const adapter = new SwallowingAdapter();
    const tier = keyvTier(new Keyv({ store: adapter, namespace: "zc" }));
    adapter.emitDuringSet = new Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    await tier.set("k", Uint8Array.of(2));
    expect(Array.from((await tier.get("k"))!.value)).toEqual([2]);
    expect(tier.stats()).toMatchObject({ errors: 0, sets: 1, errorEvents: 1 });
  });
});

whenRedis(reachable, "attributing 'error' events on @keyv/redis", () => {
  it("a write concurrent with reads of a foreign-typed key succeeds and is kept; the reads are misses", async () => {
    const namespace = uniqueNamespace("attribution");
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const store = new KeyvRedis(REDIS_URL);
    const tier = keyvTier(new Keyv({ store, namespace }));
    const redisKey = (key: string) => `${namespace}::${namespace}:${key}`;
    try {
      await client.hSet(redisKey("hash"), "field", "value");
      await tier.set("warm-up", Uint8Array.of(0));
      for (let round = 0; round < 5; round++) {
        // The reads go out first; their WRONGTYPE replies (and 'error' events) arrive while the write is in flight.
        const reads = Array.from({ length: 4 }, () => tier.get("hash"));
        const write = tier.set("k", Uint8Array.of(round));
        const results = await Promise.allSettled([...reads, write]);
        expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
        for (const read of results.slice(0, 4)) expect((read as PromiseFulfilledResult<unknown>).value).toBeUndefined();
        expect(Array.from((await tier.get("k"))!.value)).toEqual([round]);
      }
      const stats = tier.stats();
      expect(stats.errors).toBe(0);
      expect(stats.corruptions).toBe(20);
      expect(stats.errorEvents).toBeGreaterThanOrEqual(20);
      expect(store.throwOnErrors).toBe(true); // switched on by the tier: failures throw, so events are not needed
      await tier.close();
      expect(store.throwOnErrors).toBe(false); // restored
    } finally {
      await client.del([redisKey("hash"), redisKey("k"), redisKey("warm-up")]);
      await client.close();
      await tier.close();
    }
  });
});
