// The read-after-change rule, case by case: a read that starts after a change completed never
// returns an older value, and nothing from before the change is planted back afterwards.
import { type CacheTier, type TierInvalidation, type TieredCache, createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, deferred, gatedLoader, instrumented, sleep } from "./helpers.js";

const MiB = 1024 * 1024;
let open: TieredCache[] = [];
afterEach(async () => {
  for (const cache of open) await cache.close().catch(() => {});
  open = [];
});
function build(options: Parameters<typeof createCache>[0], ...tiers: CacheTier[]) {
  let builder = createCache(options);
  for (const tier of tiers) builder = builder.tier(tier);
  const cache = builder.build();
  open.push(cache);
  return cache;
}
const l1 = () => memory({ maxBytes: MiB, name: "l1" });

describe("a read that starts after a change never joins a load from before it", () => {
  const changes: [string, (cache: TieredCache) => Promise<unknown>][] = [
    ["write (write-around)", (c) => c.write("k", bytes(2), () => {})],
    ["invalidate", (c) => c.invalidate("k")],
    ["delete", (c) => c.delete("k")],
    ["clear", (c) => c.clear()],
  ];
  for (const [name, change] of changes) {
    it(name, async () => {
      const cache = build({ writePolicy: "write-around" }, l1());
      const old = gatedLoader(bytes(1)); // answers the value from before the change
      const before = cache.getOrLoad("k", old.load);
      await change(cache);
      const after = cache.getOrLoad("k", async () => bytes(2));
      old.release();
      expect((await before)?.[0]).toBe(1); // the caller from before still gets its answer
      expect((await after)?.[0]).toBe(2);
      expect(cache.peek("k")?.[0]).toBe(2);
      expect(old.seen.calls).toBe(1);
    });
  }

  it("a remote invalidation", async () => {
    const listeners: ((m: TierInvalidation) => void)[] = [];
    const shared = Object.assign(memory({ maxBytes: MiB, name: "shared" }), {
      onInvalidation(listener: (m: TierInvalidation) => void) {
        listeners.push(listener);
        return () => {};
      },
    });
    const cache = build({}, l1(), shared);
    const old = gatedLoader(bytes(1));
    const before = cache.getOrLoad("k", old.load);
    await sleep(1);
    for (const listener of listeners) listener({ kind: "keys", keys: ["k"] });
    const after = cache.getOrLoad("k", async () => bytes(2));
    old.release();
    expect((await before)?.[0]).toBe(1);
    expect((await after)?.[0]).toBe(2);
    await cache.flush();
    expect((await shared.get("k"))?.value[0]).not.toBe(1); // the old load cached nothing
  });
});

describe("nothing from before a change lands after it", () => {
  it("a fill of the old value that a slow tier is still taking lands before the write's new value", async () => {
    const inner = memory({ maxBytes: MiB, name: "slow" });
    const slow: CacheTier = Object.assign(Object.create(inner) as CacheTier, {
      // The old value's fill takes 30 ms; everything else is immediate.
      set: async (key: string, value: Uint8Array, options?: object) => {
        if (value[0] === 1) await sleep(30);
        return inner.set(key, value, options);
      },
    });
    const cache = build({}, l1(), slow);
    await cache.getOrLoad("k", async () => bytes(1));
    await sleep(5); // the deferred fill of the slow tier has started
    await cache.write("k", bytes(2), () => {});
    expect((await inner.get("k"))?.value[0]).toBe(2);
    await cache.flush();
    expect((await inner.get("k"))?.value[0]).toBe(2);
  });

  it("a plain lookup that read a lower tier before a write does not backfill the old value", async () => {
    const spy = instrumented(memory({ maxBytes: MiB }), "l2");
    const top = l1();
    const cache = build({}, top, spy.tier);
    await spy.tier.set("k", bytes(1));
    const gate = deferred();
    spy.control.getGate = gate.promise;
    const lookup = cache.get("k"); // reads v1 in L2, then waits
    await sleep(1);
    spy.control.getGate = undefined;
    await cache.write("k", bytes(2), () => {});
    gate.resolve();
    expect((await lookup)?.value[0]).toBe(1);
    expect(cache.peek("k")?.[0]).toBe(2);
    expect((await top.get("k"))?.value[0]).toBe(2);
  });

  it("writes of one key reach the tiers in the order they reached the store", async () => {
    const inner = memory({ maxBytes: MiB, name: "slow" });
    const slow: CacheTier = Object.assign(Object.create(inner) as CacheTier, {
      set: async (key: string, value: Uint8Array, options?: object) => {
        if (value[0] === 1) await sleep(30); // the first write's cache update is slow
        return inner.set(key, value, options);
      },
    });
    const cache = build({}, l1(), slow);
    let store = 0;
    const first = cache.write("k", bytes(1), () => void (store = 1));
    const second = cache.write("k", bytes(2), () => void (store = 2));
    await Promise.all([first, second]);
    expect(store).toBe(2);
    expect((await inner.get("k"))?.value[0]).toBe(2);
    expect(cache.peek("k")?.[0]).toBe(2);
  });

  it("an invalidation waits for a write already running, so the write cannot put its value back", async () => {
    const inner = memory({ maxBytes: MiB, name: "slow" });
    const slow: CacheTier = Object.assign(Object.create(inner) as CacheTier, {
      set: async (key: string, value: Uint8Array, options?: object) => {
        await sleep(30);
        return inner.set(key, value, options);
      },
    });
    const cache = build({}, l1(), slow);
    let store = 0;
    const writing = cache.write("k", bytes(1), () => void (store = 1));
    await sleep(1);
    store = 2; // someone else changes the store, then tells the cache
    await cache.invalidate("k");
    await writing;
    expect(store).toBe(2);
    expect(await inner.has("k")).toBe(false);
    expect(cache.peek("k")).toBeUndefined();
  });

  it("an invalidation does not wait for a slow store write, which then removes the key instead of caching", async () => {
    const cache = build({}, l1());
    let store = 0;
    const landing = deferred();
    const writing = cache.write("k", bytes(1), async () => {
      await landing.promise; // the store write is slow
      store = 1;
    });
    await sleep(1);
    store = 2; // meanwhile the store changed for another reason; the cache is told
    await cache.invalidate("k"); // resolves while the write is still in the store
    landing.resolve();
    const result = await writing;
    expect(result.action).toBe("invalidated");
    expect(cache.peek("k")).toBeUndefined(); // the next read goes to the store
    expect((await cache.getOrLoad("k", async () => bytes(store)))?.[0]).toBe(store);
  });

  it("a plain lookup of a shared tier still backfills across a remote invalidation (the tier already holds the change)", async () => {
    const listeners: ((m: TierInvalidation) => void)[] = [];
    const shared = instrumented(memory({ maxBytes: MiB }), "shared");
    const withBus = Object.assign(shared.tier, {
      onInvalidation(listener: (m: TierInvalidation) => void) {
        listeners.push(listener);
        return () => {};
      },
    });
    const cache = build({}, l1(), withBus);
    await shared.tier.set("k", bytes(2)); // another node wrote v2, then announced it
    const gate = deferred();
    shared.control.getGate = gate.promise;
    const lookup = cache.get("k");
    await sleep(1);
    for (const listener of listeners) listener({ kind: "keys", keys: ["k"] });
    gate.resolve();
    expect((await lookup)?.value[0]).toBe(2);
    await sleep(1);
    expect(cache.peek("k")?.[0]).toBe(2);
  });

  it("a prefetch batch read across a change takes the guarded path instead of filling", async () => {
    const l2 = memory({ maxBytes: MiB, name: "l2" });
    const gate = deferred();
    const batching = Object.assign(Object.create(l2) as typeof l2, {
      getMany: async (keys: readonly string[]) => {
        const entries = await l2.getMany(keys);
        await gate.promise;
        return entries;
      },
    });
    const cache = build({}, l1(), batching);
    await l2.set("ds:/k", bytes(1));
    const loads: string[] = [];
    cache.registerLoader("ds:", async (key) => (loads.push(key), bytes(3)));
    const warming = cache.prefetch(["ds:/k"]);
    await sleep(1);
    await cache.write("ds:/k", bytes(2), () => {});
    gate.resolve();
    await warming;
    expect(cache.peek("ds:/k")?.[0]).toBe(2);
  });
});
