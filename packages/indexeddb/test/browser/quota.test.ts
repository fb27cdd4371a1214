// The browser's storage quota smaller than maxBytes. A Storage Bucket with a 3 MiB quota makes
// IndexedDB writes really fail with QuotaExceededError, deterministically (Chromium compresses
// IndexedDB values, so the test writes incompressible bytes).
import { createCache } from "@zarrs-cache/core";
import { testBytes } from "@zarrs-cache/core/testing";
import { indexedDb } from "@zarrs-cache/indexeddb";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { freshName } from "./helpers.js";

interface StorageBucket {
  name: string;
  indexedDB: IDBFactory;
}
const buckets = (
  navigator as unknown as {
    storageBuckets: { open(name: string, o: { quota: number }): Promise<StorageBucket>; delete(name: string): Promise<void> };
  }
).storageBuckets;
const opened: string[] = [];

async function smallBucket(quota: number): Promise<StorageBucket> {
  const bucket = await buckets.open(freshName("bucket"), { quota });
  opened.push(bucket.name);
  return bucket;
}

afterEach(async () => {
  for (const name of opened.splice(0)) await buckets.delete(name);
});

describe("indexedDb: QuotaExceededError", () => {
  it("evicts to make room and reports it; no write and no read fails", async () => {
    const bucket = await smallBucket(3 * 1024 * 1024);
    const tier = indexedDb({ name: "quota", maxBytes: 256 * 1024 * 1024, factory: bucket.indexedDB });
    const evicted: string[] = [];
    tier.onEviction((key) => evicted.push(key));
    for (let i = 0; i < 16; i++) await tier.set(`big/${i}`, testBytes(512 * 1024, i + 1));
    const stats = tier.stats();
    expect(stats.quotaExceeded).toBeGreaterThan(0);
    expect(evicted.length).toBeGreaterThan(0);
    expect(stats.evictions).toBe(evicted.length);
    expect(stats.bytes).toBeLessThan(3 * 1024 * 1024);
    expect((await tier.get("big/15"))!.value[7]).toBe(testBytes(8, 16)[7]);
    for (const key of evicted) expect(await tier.get(key)).toBeUndefined();

    // Through a TieredCache the reads all succeed, whatever the quota does to the fills.
    const cache = createCache()
      .tier(memory({ maxBytes: 1 << 20 }))
      .tier(tier)
      .build();
    for (let i = 0; i < 8; i++) {
      const value = await cache.getOrLoad(`more/${i}`, async () => testBytes(512 * 1024, 100 + i));
      expect(value![7]).toBe(testBytes(8, 100 + i)[7]);
    }
    await cache.close();
  });

  it("when evicting cannot free quota either, a write fails with IO_ERROR (never a raw DOMException) and reads still work", async () => {
    // Inline records (under 64 KiB, or split in pieces) free their quota only when Chromium compacts
    // the database: in a small bucket, the eviction's own transaction can hit the quota too.
    const bucket = await smallBucket(1024 * 1024);
    const tier = indexedDb({ name: "quota-inline", maxBytes: 256 * 1024 * 1024, factory: bucket.indexedDB });
    const failures: unknown[] = [];
    for (let i = 0; i < 48; i++) await tier.set(`inline/${i}`, testBytes(50 * 1024, i + 1)).catch((error) => failures.push(error));
    expect(tier.stats().quotaExceeded).toBeGreaterThan(0);
    for (const failure of failures) expect(failure).toMatchObject({ code: "IO_ERROR" });
    await tier.get("inline/0"); // a hit or a miss, never a rejection
    await tier.close();
  });

  it("fails a write it cannot fit even after evicting with IO_ERROR, and the tier keeps working", async () => {
    const bucket = await smallBucket(256 * 1024);
    const tier = indexedDb({ name: "quota-small", maxBytes: 64 * 1024 * 1024, factory: bucket.indexedDB });
    await tier.set("small", testBytes(1000, 1));
    await expect(tier.set("huge", testBytes(1024 * 1024, 2))).rejects.toMatchObject({ code: "IO_ERROR" });
    expect(await tier.get("huge")).toBeUndefined();
    await tier.set("small-2", testBytes(1000, 3));
    expect((await tier.get("small-2"))!.value.byteLength).toBe(1000);
    await tier.close();
  });
});
