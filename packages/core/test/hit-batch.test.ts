// Hits delivered to plugins in batches (on("hits")): order, timing, flush, capacity, close.
import { type HitBatch, type HitSubscription, type PluginContext, type TieredCache, createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";

const MiB = 1024 * 1024;
const open: TieredCache[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
});

interface Seen {
  key: string;
  level: number;
  bytes: number;
  timed: boolean;
  prefetch: boolean;
}

/** A cache with a plugin that records batched hits and, one by one, misses. */
function recording(tiers = [memory({ maxBytes: MiB })]) {
  const batches: Seen[][] = [];
  const log: string[] = [];
  let subscription!: HitSubscription;
  let context!: PluginContext;
  const plugin = {
    name: "recorder",
    setup(ctx: PluginContext) {
      context = ctx;
      subscription = ctx.on("hits", (batch: HitBatch) => {
        const seen: Seen[] = [];
        for (let i = 0; i < batch.length; i++) {
          const entry = {
            key: batch.keys[i]!,
            level: batch.levels[i]!,
            bytes: batch.bytes[i]!,
            timed: !Number.isNaN(batch.ms[i]!),
            prefetch: batch.prefetch[i] === 1,
          };
          seen.push(entry);
          log.push(`hit ${entry.key}`);
        }
        batches.push(seen);
      });
      ctx.on("miss", (e) => log.push(`miss ${e.key}`));
    },
  };
  let builder = createCache();
  for (const tier of tiers) builder = builder.tier(tier);
  const cache = builder.use(plugin).build();
  open.push(cache);
  return { cache, batches, log, subscription: () => subscription, context: () => context };
}

const value = (n: number) => new Uint8Array(n).fill(1);
const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("hits in batches", () => {
  it("arrive after the reads, in order, with level, size and origin; flush() delivers them at once", async () => {
    const { cache, batches, subscription } = recording();
    await cache.set("a", value(3));
    await cache.set("b", value(5));
    await cache.getOrLoad("a", async () => value(1));
    expect(cache.peek("b")).toEqual(value(5));
    expect(batches).toEqual([]); // nothing yet: delivery is deferred
    subscription().flush();
    expect(batches).toEqual([
      [
        { key: "a", level: 0, bytes: 3, timed: false, prefetch: false },
        { key: "b", level: 0, bytes: 5, timed: false, prefetch: false },
      ],
    ]);
    subscription().flush(); // nothing waits: no empty batch
    expect(batches).toHaveLength(1);
  });

  it("are delivered on the next macrotask without a flush", async () => {
    const { cache, batches } = recording();
    await cache.set("a", value(2));
    cache.peek("a");
    cache.peek("a");
    await macrotask();
    expect(batches.map((b) => b.length)).toEqual([2]);
  });

  it("come before any later event, so a plugin sees reads in the order they happened", async () => {
    const { cache, log } = recording();
    await cache.set("a", value(2));
    await cache.getOrLoad("a", async () => value(1));
    await cache.getOrLoad("x", async () => value(1)); // a miss: emitted one by one
    await cache.getOrLoad("a", async () => value(1));
    await macrotask();
    expect(log).toEqual(["hit a", "miss x", "hit a"]);
  });

  it("hold what a `hit` event says: lower levels, absent entries, and hits emitted by hand (prefetches too)", async () => {
    const l2 = memory({ maxBytes: MiB, name: "l2" });
    const { cache, batches, subscription } = recording([memory({ maxBytes: MiB, name: "l1" }), l2]);
    await l2.set("low", value(7));
    await cache.getOrLoad("low", async () => value(1)); // found at level 1
    await cache.getOrLoad("gone", async () => undefined); // cached as absent
    await cache.getOrLoad("gone", async () => value(1));
    cache.events.emit("hit", { key: "ahead", tier: "l2", level: 1, absent: false, bytes: 4, origin: "prefetch" });
    cache.events.emit("hit", { key: "by-hand", tier: "l1", level: 0, absent: false, bytes: 9, ms: 0.5 });
    subscription().flush();
    expect(batches.flat()).toEqual([
      { key: "low", level: 1, bytes: 7, timed: true, prefetch: false },
      { key: "gone", level: 0, bytes: 0, timed: false, prefetch: false },
      { key: "ahead", level: 1, bytes: 4, timed: false, prefetch: true },
      { key: "by-hand", level: 0, bytes: 9, timed: true, prefetch: false },
    ]);
  });

  it("time one first-tier lookup in 16, as the hit event does", async () => {
    const { cache, batches, subscription } = recording();
    await cache.set("a", value(1));
    for (let i = 0; i < 64; i++) cache.peek("a");
    subscription().flush();
    expect(batches.flat().filter((h) => h.timed)).toHaveLength(4);
  });

  it("are delivered at once when 512 wait, and every hit is delivered exactly once", async () => {
    const { cache, batches, subscription } = recording();
    await cache.set("a", value(1));
    for (let i = 0; i < 1300; i++) cache.peek("a");
    expect(batches.map((b) => b.length)).toEqual([512, 512]);
    subscription().flush();
    expect(batches.map((b) => b.length)).toEqual([512, 512, 276]);
    expect(cache.levelStats()[0]!.hits).toBe(1300);
  });

  it("are delivered when the cache closes, and when a plugin unsubscribes", async () => {
    const first = recording();
    await first.cache.set("a", value(1));
    first.cache.peek("a");
    await first.cache.close();
    expect(first.batches.map((b) => b.length)).toEqual([1]);

    const second = recording();
    await second.cache.set("a", value(1));
    second.cache.peek("a");
    second.subscription()();
    expect(second.batches.map((b) => b.length)).toEqual([1]);
    second.cache.peek("a");
    await macrotask();
    expect(second.batches.map((b) => b.length)).toEqual([1]); // unsubscribed: no more
  });

  it("a listener that throws breaks neither reads nor the other listeners", async () => {
    const { cache, batches, subscription, context } = recording();
    context().on("hits", () => {
      throw new Error("faulty plugin");
    });
    await cache.set("a", value(1));
    expect(cache.peek("a")).toEqual(value(1));
    subscription().flush();
    expect(batches.map((b) => b.length)).toEqual([1]);
  });

  it("cost nothing while nobody listens in batches: a `hit` listener still gets every event at once", async () => {
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .build();
    open.push(cache);
    const seen: string[] = [];
    cache.events.on("hit", (e) => seen.push(e.key));
    await cache.set("a", value(1));
    cache.peek("a");
    expect(seen).toEqual(["a"]);
    expect(cache.events.hits.listening).toBe(false);
    expect(cache.events.hits.size).toBe(0);
  });
});
