// Schema versions: a tab running this code lets a newer version upgrade (it closes on versionchange),
// and a database newer than this code makes the tier unavailable, while a TieredCache still serves reads.
import { createCache } from "@zarrs-cache/core";
import { DB_VERSION, indexedDb } from "@zarrs-cache/indexeddb";
import { memory } from "@zarrs-cache/memory";
import { openDB } from "idb";
import { afterEach, describe, expect, it } from "vitest";
import { dropDatabases, freshName } from "./helpers.js";

afterEach(dropDatabases);

describe("indexedDb: schema versions", () => {
  it("lets a newer version of the code upgrade the database while this tier has it open, then reports unavailable", async () => {
    const name = freshName("upgrade");
    const tier = indexedDb({ name, maxBytes: 1 << 20 });
    await tier.set("k", new Uint8Array([1]));
    let blocked = false;
    // What a tab with a future release would do. Without the versionchange handling this waits forever.
    const newer = await openDB(name, DB_VERSION + 1, {
      blocked: () => {
        blocked = true;
      },
      upgrade: (db) => {
        db.createObjectStore("future");
      },
    });
    expect(blocked).toBe(false);
    expect(newer.objectStoreNames.contains("future")).toBe(true);
    // This tier's code knows only DB_VERSION: it reports itself unavailable rather than corrupting data.
    await expect(tier.get("k")).rejects.toMatchObject({ code: "TIER_UNAVAILABLE" });
    newer.close();
    await tier.close();
  });

  it("creates the layout of DB_VERSION on a new database", async () => {
    const name = freshName("layout");
    const tier = indexedDb({ name, maxBytes: 1 << 20 });
    await tier.set("k", new Uint8Array([1]), { ttl: 60_000 });
    await tier.close();
    const db = await openDB(name);
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(["index", "meta", "pieces", "values"]);
    expect([...db.transaction("index").store.indexNames].sort()).toEqual(["access", "expiry"]);
    db.close();
  });

  it("behind a TieredCache, an unavailable IndexedDB tier costs nothing but the error count: reads go upstream", async () => {
    const name = freshName("unavailable");
    const future = await openDB(name, DB_VERSION + 5, { upgrade: () => {} });
    future.close();
    const cache = createCache()
      .tier(memory({ maxBytes: 1 << 20 }))
      .tier(indexedDb({ name, maxBytes: 1 << 20 }))
      .build();
    let loads = 0;
    const value = await cache.getOrLoad("k", async () => (loads++, new Uint8Array([7])));
    expect(Array.from(value!)).toEqual([7]);
    expect(loads).toBe(1);
    await cache.flush();
    expect(cache.stats().errors).toBeGreaterThan(0);
    await cache.close();
  });
});
