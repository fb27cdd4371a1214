import { forwardingTier } from "@zarrs-cache/core/test-utils";
import { type CacheEntry, type CacheTier, createCache } from "@zarrs-cache/core";
import { hybrid } from "@zarrs-cache/hybrid";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";
import { HotSet } from "../src/hot-set.js";
import { bytes, hybridOverMemory, manualClock } from "./helpers.js";

const KiB = 1024;

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

/**
 * A lower tier whose reads return only after `release()`: lets a test land a write during a read.
 * With `syncReads`, `getSync` is offered ungated (the hybrid then reads a write's expiry back through it).
 */
function gatedTier(inner: CacheTier, syncReads = false) {
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const tier = forwardingTier(
    inner,
    {
      name: "gated",
      get: async (key) => {
        const wait = gate;
        const entry = await inner.get(key);
        await wait;
        return entry;
      },
    },
    syncReads ? ["getSync"] : [],
  );
  return {
    tier,
    release() {
      open();
      gate = new Promise<void>((resolve) => (open = resolve));
    },
  };
}

describe("both levels stay consistent", () => {
  it("has, keys, delete, deletePrefix and clear cover memory-only, disk-only and shared keys", async () => {
    const clock = manualClock();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, diskBytes: 4000, now: clock.now });
    await tier.set("p/mem", bytes(1000, 3));
    // Push "p/mem" out of the small stand-in disk: it now lives in memory only.
    for (let i = 0; i < 3; i++) await lower.set(`q/${i}`, bytes(1000, 10 + i));
    expect(await lower.has("p/mem")).toBe(false);
    await tier.set("p/both", bytes(100, 1));
    await lower.set("p/disk", bytes(100, 2));
    expect(await tier.has("p/mem")).toBe(true);
    expect(await tier.has("p/disk")).toBe(true);
    expect(await collect(tier.keys("p/"))).toEqual(["p/both", "p/disk", "p/mem"]);

    expect(await tier.delete("p/mem")).toBe(true);
    expect(await tier.has("p/mem")).toBe(false);
    expect(await tier.delete("p/mem")).toBe(false);

    expect(await tier.deletePrefix("p/")).toBe(2);
    expect(await tier.get("p/both")).toBeUndefined();
    expect(await tier.get("p/disk")).toBeUndefined();
    expect(tier.stats().memoryEntries).toBe(0);

    await tier.set("r", bytes(10));
    await tier.clear();
    expect(await collect(tier.keys())).toEqual([]);
    expect(tier.stats()).toMatchObject({ entries: 0, bytes: 0, memoryEntries: 0, memoryBytes: 0 });
    await tier.close();
  });

  it("does not promote a value read before a delete that finished first", async () => {
    const inner = memory({ maxBytes: 1 << 20 });
    const gated = gatedTier(inner);
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: gated.tier, promotionThreshold: 0, maintenanceInterval: 0 });
    await inner.set("k", bytes(10, 1));
    const read = tier.get("k"); // waits at the gate with the old value on its way
    expect(await tier.delete("k")).toBe(true);
    gated.release();
    expect((await read)?.value).toBeDefined(); // it started before the delete
    expect(tier.stats()).toMatchObject({ promotions: 0, memoryEntries: 0 });
    const after = tier.get("k");
    gated.release();
    expect(await after).toBeUndefined();
    await tier.close();
  });

  it("does not let an older read overwrite the memory copy of a newer write", async () => {
    const inner = memory({ maxBytes: 1 << 20 });
    const gated = gatedTier(inner, true);
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: gated.tier, promotionThreshold: 0, maintenanceInterval: 0 });
    await inner.set("k", bytes(10, 1));
    const read = tier.get("k");
    await tier.set("k", bytes(10, 2)); // admitted to memory
    gated.release();
    await read;
    const now = await tier.get("k"); // memory hit, no gate
    expect(Buffer.compare(now!.value, bytes(10, 2))).toBe(0);
    await tier.close();
  });

  it("keeps the old value on both levels when the disk level refuses a write", async () => {
    const { tier } = hybridOverMemory({ memoryBytes: 64 * KiB, diskBytes: 8 * KiB });
    await tier.set("k", bytes(100, 1));
    await expect(tier.set("k", bytes(16 * KiB, 2))).rejects.toMatchObject({ code: "VALUE_TOO_LARGE" });
    expect(tier.stats().memoryEntries).toBe(1);
    expect(Buffer.compare((await tier.get("k"))!.value, bytes(100, 1))).toBe(0);
    await tier.close();
  });

  it("keeps values too big for memory on disk only", async () => {
    const tier = hybrid({
      memory: { maxBytes: 64 * KiB, maxValueBytes: 4 * KiB },
      diskTier: memory({ maxBytes: 1 << 20 }),
      promotionThreshold: 0,
      maintenanceInterval: 0,
    });
    await tier.set("big", bytes(8 * KiB));
    await tier.get("big");
    await tier.get("big");
    expect(tier.stats()).toMatchObject({ memoryEntries: 0, diskHits: 2, promotions: 0, admissionsRefused: 0 });
    await tier.close();
  });
});

describe("getSync and use inside a TieredCache", () => {
  it("offers getSync over both levels when the disk level has one, and finds disk-only entries through it", async () => {
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB });
    expect(typeof tier.getSync).toBe("function");
    await lower.set("disk-only", bytes(10, 5));
    const cache = createCache()
      .tier(tier)
      .tier(memory({ maxBytes: 1 << 20, name: "l2" }))
      .build();
    let loads = 0;
    const value = await cache.getOrLoad("disk-only", async () => {
      loads++;
      return bytes(10, 6);
    });
    expect(loads).toBe(0);
    expect(Buffer.compare(value!, bytes(10, 5))).toBe(0);
    expect(cache.levelStats()[0]!.hits).toBe(1);
    expect(tier.stats()).toMatchObject({ diskHits: 1, misses: 0 });
    await cache.close();
  });

  it("offers no getSync when the disk level has none, and TieredCache then awaits get()", async () => {
    const inner = memory({ maxBytes: 1 << 20 });
    const asyncOnly = forwardingTier(inner, { name: "async-only" });
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: asyncOnly, maintenanceInterval: 0 });
    expect(tier.getSync).toBeUndefined();
    await inner.set("disk-only", bytes(10, 5));
    const cache = createCache().tier(tier).build();
    const value = await cache.getOrLoad("disk-only", async () => undefined);
    expect(Buffer.compare(value!, bytes(10, 5))).toBe(0);
    await cache.close();
  });
});

describe("stats", () => {
  it("reports hits, misses and hit rates per level", async () => {
    const clock = manualClock();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, promotionThreshold: 2, now: clock.now });
    await tier.set("m", bytes(100)); // admitted: memory has room
    await lower.set("d", bytes(100));
    await tier.get("m");
    await tier.get("m");
    await tier.get("d");
    clock.advance(5000);
    await tier.get("missing");
    const stats = tier.stats();
    expect(stats).toMatchObject({ hits: 3, misses: 1, memoryHits: 2, diskHits: 1, sets: 1, admissions: 1, entries: 2, memoryEntries: 1 });
    expect(stats.memoryHitRate).toBeCloseTo(2 / 4);
    expect(stats.diskHitRate).toBeCloseTo(1 / 2);
    expect(stats.bytes).toBe(lower.stats().bytes! + stats.memoryBytes!);
    await tier.close();
  });
});

describe("HotSet", () => {
  it("keeps its budget equal to the memory tier's own accounting and picks LRU victims", () => {
    const hot = new HotSet({ maxBytes: 3000, entryOverhead: 100 });
    const entry = (n: number, seed: number): CacheEntry => ({ value: bytes(n, seed) });
    expect(hot.insert("a", entry(800, 1), 1)).toBe(true);
    expect(hot.insert("b", entry(800, 2), 2)).toBe(true);
    expect(hot.insert("c", entry(800, 3), 3)).toBe(true);
    expect(hot.bytes).toBe(3 * (800 + 100 + 2));
    expect(hot.storeBytes()).toBe(hot.bytes);
    hot.get("a", 4); // a becomes most recent
    expect(hot.victimsFor(900)).toEqual(["b"]);
    expect(hot.victimsFor(2000)).toEqual(["b", "c"]);
    expect(hot.victimsFor(3001)).toBeUndefined();
    expect(hot.remove("b")).toBeDefined();
    expect(hot.storeBytes()).toBe(hot.bytes);
    expect(hot.idleSince(3)).toEqual(["c"]);
  });
});

describe("eviction events", () => {
  it("reports entries the disk level dropped, except those memory still holds", async () => {
    // The stand-in disk holds three ~1 KiB entries.
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, diskBytes: 3600, promotionThreshold: 100 });
    const evicted: string[] = [];
    const unsubscribe = tier.onEviction((key, reason) => evicted.push(`${key}:${reason}`));
    await tier.set("in-memory", bytes(1000, 1)); // admitted to memory as well
    await lower.set("disk-only", bytes(1000, 2));
    await lower.set("x", bytes(1000, 3));
    await lower.set("y", bytes(1000, 4)); // evicts "in-memory" from the disk level: still held, not reported
    await lower.set("z", bytes(1000, 5)); // evicts "disk-only": gone, reported
    expect(evicted).toEqual(["disk-only:evict"]);
    unsubscribe();
    await lower.set("w", bytes(1000, 6));
    expect(evicted).toEqual(["disk-only:evict"]);
    await tier.close();
  });
});
