// The TieredCache in Chromium: read-through over two tiers, single-flight, backfill, negative caching.
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";

describe("TieredCache in Chromium", () => {
  it("reads through two tiers: one load for concurrent misses, then L1 hits, L2 backfills L1", async () => {
    const l1 = memory({ maxBytes: 1 << 20, name: "l1" });
    const l2 = memory({ maxBytes: 1 << 20, name: "l2" });
    const cache = createCache().tier(l1).tier(l2).build();
    let loads = 0;
    const loader = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 20));
      return new Uint8Array([1, 2, 3]);
    };
    const values = await Promise.all(Array.from({ length: 10 }, () => cache.getOrLoad("ds:c/0", loader)));
    expect(loads).toBe(1);
    for (const v of values) expect(Array.from(v!)).toEqual([1, 2, 3]);
    await cache.flush();
    expect(cache.peek("ds:c/0")).toBeInstanceOf(Uint8Array); // answered synchronously from L1
    await l1.delete("ds:c/0");
    expect(Array.from((await cache.getOrLoad("ds:c/0", loader))!)).toEqual([1, 2, 3]);
    expect(loads).toBe(1); // from L2
    const stats = cache.levelStats();
    expect(stats[1]!.hits).toBe(1);
    expect(await cache.getOrLoad("ds:absent", async () => undefined)).toBeUndefined();
    expect(await cache.getOrLoad("ds:absent", loader)).toBeUndefined(); // negative-cached: no second load
    expect(loads).toBe(1);
    await cache.close();
  });
});
