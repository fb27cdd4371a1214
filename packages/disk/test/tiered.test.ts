import { createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { afterAll, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, same, tempDir } from "./helpers.js";

const MiB = 1024 * 1024;
afterAll(cleanupTempDirs);

describe("in a TieredCache", () => {
  it("a second run reads from disk instead of upstream", async () => {
    const dir = tempDir("second-run");
    const upstream = new Map([
      ["ds/zarr.json", bytes(300, 1)],
      ["ds/c/0/0", bytes(8192, 2)],
      ["ds/c/0/1", bytes(600_000, 3)],
    ]);
    let loads = 0;
    const load = (key: string) => async () => {
      loads++;
      return upstream.get(key);
    };
    const run = async () => {
      const cache = createCache()
        .tier(memory({ maxBytes: MiB }))
        .tier(disk({ dir, maxBytes: 16 * MiB }))
        .build();
      for (const [key, value] of upstream) expect(same(await cache.getOrLoad(key, load(key), { kind: "chunk" }), value)).toBe(true);
      expect(await cache.getOrLoad("ds/absent", load("ds/absent"))).toBeUndefined();
      await cache.close();
    };
    await run();
    expect(loads).toBe(4);
    await run();
    expect(loads).toBe(4); // everything, the cached "absent" included, came from disk
  });

  it("works as the first level, answering hits synchronously", async () => {
    const tier = disk({ dir: tempDir("l1"), maxBytes: MiB });
    const cache = createCache().tier(tier).build();
    await cache.set("k", bytes(100, 1));
    expect(same(cache.peek("k") ?? undefined, bytes(100, 1))).toBe(true);
    expect(tier.stats().hits).toBe(1);
    await cache.invalidate("k");
    expect(cache.peek("k")).toBeUndefined();
    await cache.close();
  });
});
