import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";
import { bytes, hybridOverMemory, manualClock } from "./helpers.js";

const KiB = 1024;
const HOT = 16;
const SCAN = 600;

/** The read-through pattern a TieredCache drives: get, and set after a miss. */
async function readThrough(cache: ReturnType<ReturnType<typeof createCache>["build"]>, key: string, seed: number) {
  return cache.getOrLoad(key, async () => bytes(KiB, seed));
}

describe("scan resistance", () => {
  it("keeps the hot set in memory through a long scan of never-seen keys", async () => {
    const clock = manualClock();
    // Memory holds 20 entries of ~1 KiB; the hot set is 16.
    const { tier } = hybridOverMemory({ memoryBytes: 20 * (KiB + 64), now: clock.now });
    const cache = createCache().tier(tier).build();
    for (let round = 0; round < 8; round++) {
      for (let h = 0; h < HOT; h++) await readThrough(cache, `hot/${h}`, h + 1);
      clock.advance(50);
    }
    expect(tier.stats().memoryEntries).toBe(HOT);

    for (let i = 0; i < SCAN; i++) {
      await readThrough(cache, `scan/${i}`, 1000 + i);
      clock.advance(1);
    }
    const afterScan = tier.stats();
    // The scan took the few free slots, then every later candidate lost to the hot entries.
    const scanAdmitted = afterScan.memoryEntries! - HOT;
    expect(scanAdmitted).toBeLessThanOrEqual(5);
    expect(afterScan.admissionsRefused).toBe(SCAN - scanAdmitted);
    expect(afterScan.demotions).toBe(0);

    const memoryHitsBefore = tier.stats().memoryHits;
    for (let h = 0; h < HOT; h++) {
      const value = await readThrough(cache, `hot/${h}`, -1);
      expect(Buffer.compare(value!, bytes(KiB, h + 1))).toBe(0);
    }
    expect(tier.stats().memoryHits - memoryHitsBefore).toBe(HOT);
    // Every scanned key is still available from the disk level.
    expect(Buffer.compare((await tier.get("scan/123"))!.value, bytes(KiB, 1123))).toBe(0);
    await cache.close();
  });

  it("control: a plain LRU memory tier of the same size loses the whole hot set to the same scan", async () => {
    const lru = memory({ maxBytes: 20 * (KiB + 64), entryOverhead: 0 });
    const cache = createCache().tier(lru).build();
    for (let round = 0; round < 8; round++) for (let h = 0; h < HOT; h++) await readThrough(cache, `hot/${h}`, h + 1);
    for (let i = 0; i < SCAN; i++) await readThrough(cache, `scan/${i}`, 1000 + i);
    const before = lru.stats().hits;
    for (let h = 0; h < HOT; h++) await readThrough(cache, `hot/${h}`, h + 1);
    expect(lru.stats().hits - before).toBe(0);
    await cache.close();
  });

  it("still lets a key that becomes hot displace the least recently used, colder entry", async () => {
    const clock = manualClock();
    // Room for 4 entries, all admitted without a contest (below 15/16 of the budget).
    const { tier, lower } = hybridOverMemory({ memoryBytes: 4500, now: clock.now });
    for (let i = 0; i < 4; i++) await tier.set(`warm/${i}`, bytes(KiB, i + 1));
    for (let i = 0; i < 4; i++) await tier.get(`warm/${i}`); // each seen once
    expect(tier.stats().memoryEntries).toBe(4);
    await lower.set("rising", bytes(KiB, 99)); // on disk only
    for (let i = 0; i < 10; i++) {
      await tier.get("rising");
      clock.advance(20);
    }
    const stats = tier.stats();
    expect(stats.promotions).toBe(1);
    expect(stats.demotions).toBe(1);
    expect(stats.memoryEntries).toBe(4);
    // warm/0 was the LRU victim: demoted, not lost.
    const diskHits = stats.diskHits;
    expect(Buffer.compare((await tier.get("warm/0"))!.value, bytes(KiB, 1))).toBe(0);
    expect(tier.stats().diskHits).toBe(diskHits + 1);
    const memoryHits = tier.stats().memoryHits;
    await tier.get("rising");
    expect(tier.stats().memoryHits).toBe(memoryHits + 1);
    await tier.close();
  });

  it("refuses a promotion whose rate is high but whose frequency does not beat the victim's", async () => {
    const clock = manualClock();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 2250, promotionThreshold: 2, now: clock.now });
    await tier.set("a", bytes(KiB, 1));
    await tier.set("b", bytes(KiB, 2));
    for (let i = 0; i < 10; i++) {
      await tier.get("a");
      await tier.get("b");
    }
    await lower.set("c", bytes(KiB, 3));
    for (let i = 0; i < 3; i++) await tier.get("c"); // fast enough, but 3 accesses lose to 10
    expect(tier.stats()).toMatchObject({ promotions: 0, demotions: 0, admissionsRefused: 2 });
    await tier.close();
  });

  it("makes a candidate that fits in the leftover space beat the next victim once memory is 15/16 full", async () => {
    const clock = manualClock();
    // 3 entries of 1036 bytes fill 3108 of 3400 bytes (15/16 is 3187.5); a 4th, small one passes 15/16.
    const { tier } = hybridOverMemory({ memoryBytes: 3400, now: clock.now });
    for (let i = 0; i < 3; i++) await tier.set(`warm/${i}`, bytes(KiB, i + 1));
    for (let i = 0; i < 3; i++) await tier.get(`warm/${i}`);
    expect(tier.stats().memoryEntries).toBe(3);
    await tier.get("small"); // a miss: seen once
    await tier.set("small", bytes(100, 9)); // fits the free 292 bytes, but loses to warm/0 (seen once each)
    expect(tier.stats()).toMatchObject({ memoryEntries: 3, admissionsRefused: 1, admissions: 3 });
    for (let i = 0; i < 3; i++) await tier.get("small2");
    await tier.set("small2", bytes(100, 10)); // seen 3 times: beats warm/0, takes the free space
    expect(tier.stats()).toMatchObject({ memoryEntries: 4, admissions: 4, demotions: 0 });
    await tier.close();
  });
});
