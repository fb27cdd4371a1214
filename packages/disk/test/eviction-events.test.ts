import { createCache } from "@zarrs-cache/core";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, closeOpenedTiers, expectCode, openedTier, tempDir } from "./helpers.js";

const KiB = 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const tier = openedTier;

afterEach(async () => {
  await closeOpenedTiers();
  cleanupTempDirs();
});

describe("onEviction reports what this process evicted or reclaimed", () => {
  it("evictions past the bound and reclaimed expiries, with their keys; unsubscribe stops them", async () => {
    const t = tier(tempDir("events"), 200 * KiB);
    const events: [string, string][] = [];
    const unsubscribe = t.onEviction((key, reason) => events.push([key, reason]));
    await t.set("short", bytes(1000, 1), { ttl: 20 });
    for (let i = 0; i < 4; i++) await t.set(`k${i}`, bytes(40 * KiB, i));
    await sleep(1100); // past the TTL and the once-a-second sweep
    await t.set("k4", bytes(40 * KiB, 4));
    await t.set("k5", bytes(40 * KiB, 5));
    expect(events).toContainEqual(["short", "expire"]);
    expect(events.filter(([, reason]) => reason === "evict")).toEqual([
      ["k0", "evict"],
      ["k1", "evict"],
    ]);
    expect(t.stats().evictions).toBe(2);
    unsubscribe();
    await t.set("k6", bytes(40 * KiB, 6));
    expect(t.stats().evictions).toBe(3);
    expect(events.filter(([, reason]) => reason === "evict")).toHaveLength(2);
  });

  it("reach a TieredCache's evict event, and a throwing listener does not fail the write", async () => {
    const t = tier(tempDir("events-tiered"), 100 * KiB);
    t.onEviction(() => {
      throw new Error("listener bug");
    });
    const cache = createCache().tier(t).build();
    const evicted: string[] = [];
    cache.events.on("evict", (event) => evicted.push(`${event.tier}:${event.key}:${event.reason}`));
    for (let i = 0; i < 4; i++) await t.set(`k${i}`, bytes(40 * KiB, i));
    expect(evicted).toEqual(["disk:k0:evict", "disk:k1:evict"]);
    await expectCode(() => t.onEviction(null as unknown as () => void), "INVALID_ARGUMENT");
    await cache.close();
  });
});
