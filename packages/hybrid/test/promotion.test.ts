import { afterEach, describe, expect, it, vi } from "vitest";
import { bytes, hybridOverMemory, manualClock } from "./helpers.js";

const KiB = 1024;

describe("promotion by access rate (controlled clock)", () => {
  it("leaves a slowly read disk entry on disk and promotes it once its rate passes the threshold", async () => {
    const clock = manualClock();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, promotionThreshold: 2, now: clock.now });
    await lower.set("k", bytes(1000, 1)); // on the disk level only
    // One read every 2 s is about 1.1 accesses/s: never promoted.
    for (let i = 0; i < 5; i++) {
      expect(Buffer.compare((await tier.get("k"))!.value, bytes(1000, 1))).toBe(0);
      clock.advance(2000);
    }
    expect(tier.stats()).toMatchObject({ promotions: 0, diskHits: 5, memoryHits: 0, memoryEntries: 0 });
    clock.advance(10_000); // let the measured rate decay to about 0
    // Three reads 100 ms apart reach about 2.7/s: promoted on the third.
    await tier.get("k");
    clock.advance(100);
    await tier.get("k");
    clock.advance(100);
    expect(tier.stats().promotions).toBe(0);
    await tier.get("k");
    expect(tier.stats()).toMatchObject({ promotions: 1, memoryEntries: 1 });
    // Now served from memory.
    expect(Buffer.compare((await tier.get("k"))!.value, bytes(1000, 1))).toBe(0);
    expect(tier.stats()).toMatchObject({ memoryHits: 1, diskHits: 8, hits: 9, misses: 0 });
    await tier.close();
  });

  it("demotes an entry idle for demotionAfter to disk, where it is still served", async () => {
    const clock = manualClock();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, demotionAfter: 10_000, promotionThreshold: 2, now: clock.now });
    await tier.set("idle", bytes(500, 2));
    await tier.set("busy", bytes(500, 3));
    expect(tier.stats().memoryEntries).toBe(2);
    clock.advance(6000);
    await tier.get("busy"); // memory hit: resets its idle time
    clock.advance(3999);
    expect(await tier.maintain()).toEqual({ demoted: 0, expired: 0 }); // "idle" was last used 9.999 s ago
    clock.advance(1);
    expect(await tier.maintain()).toEqual({ demoted: 1, expired: 0 });
    expect(tier.stats()).toMatchObject({ demotions: 1, idleDemotions: 1, memoryEntries: 1, writeBacks: 0 });
    // Not lost: read from the disk level.
    const before = tier.stats().diskHits;
    expect(Buffer.compare((await tier.get("idle"))!.value, bytes(500, 2))).toBe(0);
    expect(tier.stats().diskHits).toBe(before + 1);
    expect(await lower.has("idle")).toBe(true);
    clock.advance(6000);
    expect((await tier.maintain()).demoted).toBe(1); // "busy" went idle too
    expect(tier.stats().memoryEntries).toBe(0);
    await tier.close();
  });

  it("writes a demoted entry back when the disk level had evicted it", async () => {
    const clock = manualClock();
    // The stand-in disk holds about three 1 KiB values (128 bytes of overhead each).
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, diskBytes: 3600, demotionAfter: 1000, now: clock.now });
    await tier.set("hot", bytes(1000, 1), { ttl: 3_600_000 });
    const expiresAt = (await lower.get("hot"))!.expiresAt!;
    // Other traffic reaches the disk level only; memory hits never refresh "hot" there.
    for (let i = 0; i < 5; i++) {
      await lower.set(`other/${i}`, bytes(1000, 10 + i));
      await tier.get("hot");
    }
    expect(await lower.has("hot")).toBe(false);
    expect(await tier.has("hot")).toBe(true);
    clock.advance(1001);
    expect((await tier.maintain()).demoted).toBe(1);
    expect(tier.stats().writeBacks).toBe(1);
    const back = await lower.get("hot");
    expect(Buffer.compare(back!.value, bytes(1000, 1))).toBe(0);
    expect(Math.abs(back!.expiresAt! - expiresAt)).toBeLessThanOrEqual(2);
    await tier.close();
  });

  it("forgets the access rate of a deleted key", async () => {
    const clock = manualClock();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, promotionThreshold: 2.5, now: clock.now });
    await lower.set("k", bytes(10));
    await tier.get("k");
    await tier.get("k");
    await tier.delete("k");
    await lower.set("k", bytes(10));
    await tier.get("k"); // would be the third quick read, but the count started again
    expect(tier.stats().promotions).toBe(0);
    await tier.close();
  });
});

describe("TTLs across levels", () => {
  afterEach(() => vi.useRealTimers());

  it("keeps the exact expiry when an entry is promoted and when it is demoted", async () => {
    const clock = manualClock();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, promotionThreshold: 0, demotionAfter: 1000, now: clock.now });
    await lower.set("t", bytes(100), { ttl: 60_000 });
    const expiresAt = (await lower.get("t"))!.expiresAt!;
    expect((await tier.get("t"))!.expiresAt).toBe(expiresAt); // disk hit, promoted
    expect(tier.stats().promotions).toBe(1);
    expect((await tier.get("t"))!.expiresAt).toBe(expiresAt); // memory hit
    expect(tier.stats().memoryHits).toBe(1);
    clock.advance(1001);
    expect((await tier.maintain()).demoted).toBe(1);
    expect((await tier.get("t"))!.expiresAt).toBe(expiresAt); // disk again
  });

  it("expires the memory copy together with the disk copy, and maintenance reclaims it", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { tier } = hybridOverMemory({ memoryBytes: 64 * KiB });
    await tier.set("short", bytes(100), { ttl: 1000 });
    await tier.set("other", bytes(100), { ttl: 1000 });
    expect(tier.stats().memoryEntries).toBe(2);
    vi.advanceTimersByTime(999);
    expect(await tier.get("short")).toBeDefined();
    vi.advanceTimersByTime(1);
    expect(await tier.get("short")).toBeUndefined();
    expect(await tier.has("other")).toBe(false);
    expect(await tier.maintain()).toEqual({ demoted: 0, expired: 1 });
    expect(tier.stats()).toMatchObject({ memoryEntries: 0, memoryBytes: 0, expiredReclaimed: 1 });
    await tier.close();
  });

  it("applies the default ttl to both levels", async () => {
    const { tier, lower } = hybridOverMemory({ memoryBytes: 64 * KiB, ttl: 5000 });
    const t0 = Date.now();
    await tier.set("d", bytes(10));
    const disk = (await lower.get("d"))!.expiresAt!;
    const mem = (await tier.get("d"))!.expiresAt!;
    expect(tier.stats().memoryHits).toBe(1);
    expect(disk).toBeGreaterThanOrEqual(t0 + 5000);
    expect(Math.abs(mem - disk)).toBeLessThanOrEqual(2);
    await tier.close();
  });
});
