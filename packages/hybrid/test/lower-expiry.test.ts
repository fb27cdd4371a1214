import { forwardingTier } from "@zarrs-cache/core/test-utils";
import { type CacheTier, createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { hybrid } from "@zarrs-cache/hybrid";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bytes, cleanupTempDirs, manualClock, tempDir } from "./helpers.js";

const KiB = 1024;

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

afterEach(() => {
  vi.useRealTimers();
  cleanupTempDirs();
});

describe("a diskTier with its own default TTL", () => {
  it("gives the memory copy of a write the lower tier's expiry (real disk tier)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const lower = disk({ dir: tempDir("lower-ttl"), maxBytes: 1 << 20, ttl: 50 });
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: lower, maintenanceInterval: 0 });
    await tier.set("k", bytes(100, 1)); // no TTL given: the disk applies its 50 ms
    const onDisk = (await lower.get("k"))!.expiresAt!;
    const hit = (await tier.get("k"))!;
    expect(tier.stats()).toMatchObject({ memoryHits: 1, admissions: 1 });
    expect(hit.expiresAt).toBe(onDisk);
    vi.advanceTimersByTime(120);
    expect(await lower.has("k")).toBe(false);
    expect(await tier.has("k")).toBe(false);
    expect(await tier.get("k")).toBeUndefined();
    expect(await collect(tier.keys())).toEqual([]);
    await tier.close();
  });

  it("lets a TieredCache above backfill with the lower tier's expiry, not forever", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const lower = memory({ maxBytes: 1 << 20, ttl: 1000, name: "stand-in-disk" });
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: lower, maintenanceInterval: 0 });
    const l1 = memory({ maxBytes: 1 << 20, name: "l1" });
    const cache = createCache().tier(l1).tier(tier).build();
    await tier.set("k", bytes(100, 2));
    const value = await cache.getOrLoad("k", async () => bytes(100, 3));
    expect(Buffer.compare(value!, bytes(100, 2))).toBe(0);
    expect(tier.stats().memoryHits).toBe(1);
    expect((await l1.get("k"))!.expiresAt).toBe((await lower.get("k"))!.expiresAt);
    vi.advanceTimersByTime(1000);
    expect(await l1.get("k")).toBeUndefined();
    expect(await tier.get("k")).toBeUndefined();
    await cache.close();
  });

  it("keeps admitting writes without expiry over a lower tier without a default TTL", async () => {
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: memory({ maxBytes: 1 << 20 }), maintenanceInterval: 0 });
    await tier.set("k", bytes(100, 4));
    const hit = (await tier.get("k"))!;
    expect(tier.stats()).toMatchObject({ memoryHits: 1, admissions: 1 });
    expect(hit.expiresAt).toBeUndefined();
    await tier.close();
  });

  it("still succeeds when reading the expiry back fails, keeping the value out of memory", async () => {
    const inner = memory({ maxBytes: 1 << 20 });
    let failReads = true;
    const flaky = forwardingTier(inner, {
      name: "flaky-reads",
      get: async (key) => {
        if (failReads) throw new Error("read failed");
        return inner.get(key);
      },
    });
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: flaky, maintenanceInterval: 0 });
    await tier.set("k", bytes(100, 5));
    expect(tier.stats()).toMatchObject({ sets: 1, memoryEntries: 0, errors: 1 });
    failReads = false;
    expect(Buffer.compare((await tier.get("k"))!.value, bytes(100, 5))).toBe(0);
    await tier.close();
  });
});

describe("entries on their way down to disk", () => {
  it("are not reported by has() or keys() once expired", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const clock = manualClock();
    const inner = memory({ maxBytes: 1 << 20 });
    // The write-back's first step (lower.has) waits for the test, so the entry stays in transit.
    let hold: Promise<void> | undefined;
    let release!: () => void;
    const slow = forwardingTier(inner, {
      name: "slow-has",
      has: async (key) => {
        const wait = hold;
        hold = undefined;
        if (wait) await wait;
        return inner.has(key);
      },
    });
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: slow, demotionAfter: 1000, maintenanceInterval: 0, now: clock.now });
    await tier.set("k", bytes(100, 6), { ttl: 500 });
    hold = new Promise<void>((resolve) => (release = resolve));
    clock.advance(1000);
    const pass = tier.maintain(); // demotes "k": in transit until the gate opens
    expect(tier.stats().demotions).toBe(1);
    expect(await tier.has("k")).toBe(true);
    vi.advanceTimersByTime(500);
    expect(await tier.has("k")).toBe(false);
    expect(await collect(tier.keys())).toEqual([]);
    release();
    await pass;
    await tier.close();
  });
});

describe("maintain()", () => {
  it("rejects with CLOSED after close() instead of throwing synchronously", async () => {
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, diskTier: memory({ maxBytes: 1 << 20 }), maintenanceInterval: 0 });
    await tier.close();
    let pending: Promise<unknown> | undefined;
    expect(() => {
      pending = tier.maintain();
    }).not.toThrow();
    await expect(pending).rejects.toMatchObject({ code: "CLOSED" });
  });
});
