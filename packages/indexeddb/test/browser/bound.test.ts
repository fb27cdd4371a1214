// The byte bound, access order, TTL and persistence of the IndexedDB tier, in Chromium.
import { indexedDb } from "@zarrs-cache/indexeddb";
import { openDB } from "idb";
import { afterEach, describe, expect, it } from "vitest";
import { collect, dropDatabases, filled, freshName, sleep, waitFor } from "./helpers.js";

afterEach(dropDatabases);

// 1000-byte values: each entry accounts 1000 + 64 overhead + 2 bytes per key character.
const entrySize = (key: string) => 1000 + 64 + key.length * 2;

describe("indexedDb: bounded by bytes", () => {
  it("evicts the least recently used entries in the write's transaction, and reports them", async () => {
    const tier = indexedDb({ name: freshName("lru"), maxBytes: 4 * entrySize("a") });
    const evicted: [string, string][] = [];
    tier.onEviction((key, reason) => evicted.push([key, reason]));
    for (const key of ["a", "b", "c", "d"]) await tier.set(key, filled(1000, key.charCodeAt(0)));
    expect(tier.stats().evictions).toBe(0);
    expect(await tier.get("a")).toBeDefined(); // "a" becomes the most recently used
    await tier.set("e", filled(1000, 1));
    expect(evicted).toEqual([["b", "evict"]]);
    expect(await collect(tier.keys())).toEqual(["a", "c", "d", "e"]);
    const stats = tier.stats();
    expect(stats.evictions).toBe(1);
    expect(stats.entries).toBe(4);
    expect(stats.bytes).toBe(4 * entrySize("a"));
    await tier.close();
  });

  it("keeps the bound and its totals in the database: a new tier on the same name sees them", async () => {
    const name = freshName("persist");
    const first = indexedDb({ name, maxBytes: 10_000 });
    for (let i = 0; i < 20; i++) await first.set(`k${i}`, filled(1000, i));
    const held = first.stats();
    expect(held.bytes).toBeLessThanOrEqual(10_000);
    await first.close();

    const second = indexedDb({ name, maxBytes: 10_000 });
    expect(Array.from((await second.get("k19"))!.value)).toEqual(Array.from(filled(1000, 19)));
    // The totals are read as the database opens, beside the first reads (which do not wait for them).
    expect(await waitFor(() => second.stats().bytes === held.bytes)).toBe(true);
    expect(second.stats().entries).toBe(held.entries);
    // The database itself agrees with the totals.
    const db = await openDB(name);
    const records = await db.getAll("index");
    expect(records.reduce((sum, r) => sum + r.s, 0)).toBe(held.bytes);
    expect(await db.count("values")).toBe(records.length);
    db.close();
    await second.close();
  });

  it("refuses a value over maxValueBytes with VALUE_TOO_LARGE and keeps the old value", async () => {
    const tier = indexedDb({ name: freshName("maxvalue"), maxBytes: 1 << 20, maxValueBytes: 100 });
    await tier.set("k", filled(100, 1));
    await expect(tier.set("k", filled(101, 2))).rejects.toMatchObject({ code: "VALUE_TOO_LARGE" });
    expect((await tier.get("k"))!.value[0]).toBe(1);
    await tier.close();
  });

  it("applies the default ttl option, and drops expired entries first when room is needed", async () => {
    const tier = indexedDb({ name: freshName("ttl"), maxBytes: 3 * entrySize("a"), ttl: 150 });
    const reasons: [string, string][] = [];
    tier.onEviction((key, reason) => reasons.push([key, reason]));
    await tier.set("a", filled(1000, 1));
    await tier.set("b", filled(1000, 2), { ttl: 60_000 });
    expect((await tier.get("a"))!.expiresAt).toBeGreaterThan(Date.now());
    await sleep(250);
    await tier.set("c", filled(1000, 3), { ttl: 60_000 });
    await tier.set("d", filled(1000, 4), { ttl: 60_000 }); // needs room: the expired "a" goes, not the older-used "b"
    expect(reasons).toEqual([["a", "expire"]]);
    expect(await collect(tier.keys())).toEqual(["b", "c", "d"]);
    expect(tier.stats().expired).toBe(1);
    await tier.close();
  });
});

describe("indexedDb: access order", () => {
  it("writes a key's access time after a hit, and not again within the minute", async () => {
    const name = freshName("touch");
    const tier = indexedDb({ name, maxBytes: 1 << 20 });
    await tier.set("a", filled(10, 1));
    const db = await openDB(name);
    const written = (await db.get("index", "a")).a;
    await sleep(5);
    await tier.get("a");
    await tier.set("b", filled(10, 2)); // a write applies the batched access times in its transaction
    const touched = (await db.get("index", "a")).a;
    expect(touched).toBeGreaterThan(written);
    await sleep(5);
    await tier.get("a");
    await tier.set("c", filled(10, 3));
    expect((await db.get("index", "a")).a).toBe(touched);
    db.close();
    await tier.close();
  });
});
