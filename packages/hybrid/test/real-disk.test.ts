import { createCache } from "@zarrs-cache/core";
import { hybrid } from "@zarrs-cache/hybrid";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, manualClock, tempDir } from "./helpers.js";

const KiB = 1024;
afterEach(cleanupTempDirs);

describe("hybrid over the real disk tier", () => {
  it("promotes, demotes and keeps the exact expiry through the SQLite level", async () => {
    const clock = manualClock();
    const dir = tempDir("real-disk");
    const tier = hybrid({
      memory: { maxBytes: 256 * KiB },
      disk: { dir, maxBytes: 4 << 20 },
      promotionThreshold: 2,
      demotionAfter: 1000,
      maintenanceInterval: 0,
      now: clock.now,
    });
    expect(typeof tier.getSync).toBe("function"); // the disk tier reads synchronously
    const before = Date.now();
    await tier.set("a", bytes(4 * KiB, 1), { ttl: 3_600_000 });
    // The copy admitted on write gets its expiry just before the disk write: never later than the disk's.
    const written = (await tier.get("a"))!.expiresAt!;
    expect(tier.stats()).toMatchObject({ memoryHits: 1, admissions: 1 });
    clock.advance(1000);
    expect((await tier.maintain()).demoted).toBe(1);
    const expiresAt = (await tier.get("a"))!.expiresAt!; // from disk
    expect(written).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(written).toBeLessThanOrEqual(expiresAt);
    clock.advance(5000); // that read counted towards the rate: let it decay
    for (let i = 0; i < 3; i++) {
      expect((await tier.get("a"))!.expiresAt).toBe(expiresAt); // disk, disk, disk → promoted on the third
      clock.advance(50);
    }
    expect(tier.stats()).toMatchObject({ diskHits: 4, promotions: 1, demotions: 1, memoryEntries: 1 });
    expect(tier.getSync!("a")!.expiresAt).toBe(expiresAt);
    expect(tier.stats().memoryHits).toBe(2);
    await tier.close();
  });

  it("keeps every entry after close and reopen: the disk level is the durable store", async () => {
    const dir = tempDir("real-disk");
    const first = hybrid({ memory: { maxBytes: 64 * KiB }, disk: { dir, maxBytes: 4 << 20 }, maintenanceInterval: 0 });
    for (let i = 0; i < 40; i++) await first.set(`k/${i}`, bytes(4 * KiB, i + 1));
    expect(first.stats().memoryEntries).toBeLessThan(40);
    await first.close();
    const second = hybrid({ memory: { maxBytes: 64 * KiB }, disk: { dir, maxBytes: 4 << 20 }, maintenanceInterval: 0 });
    second.open();
    expect(second.stats().entries).toBe(40);
    for (let i = 0; i < 40; i++) expect(Buffer.compare((await second.get(`k/${i}`))!.value, bytes(4 * KiB, i + 1))).toBe(0);
    await second.close();
  });

  it("works as the single level of a TieredCache with read-through", async () => {
    const tier = hybrid({ memory: { maxBytes: 64 * KiB }, disk: { dir: tempDir("real-disk"), maxBytes: 4 << 20 }, maintenanceInterval: 0 });
    const cache = createCache().tier(tier).build();
    let loads = 0;
    const load = async () => {
      loads++;
      return bytes(100, 7);
    };
    await cache.getOrLoad("x", load);
    await cache.getOrLoad("x", load);
    expect(loads).toBe(1);
    expect(tier.stats()).toMatchObject({ misses: 1, memoryHits: 1, sets: 1 });
    await cache.close();
  });
});
