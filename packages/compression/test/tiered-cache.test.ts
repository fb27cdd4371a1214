import { afterEach, describe, expect, it } from "vitest";
import { type TieredCache, createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { compressed } from "@zarrs-cache/compression";
import { floatField, same, shuffled } from "./data.js";

let cache: TieredCache | undefined;
afterEach(async () => {
  await cache?.close();
  cache = undefined;
});

describe("compressed() as the second level of a TieredCache", () => {
  function build() {
    const l1 = memory({ maxBytes: 4 << 20 });
    const l2inner = memory({ maxBytes: 4 << 20, name: "slow" });
    const l2 = compressed(l2inner);
    cache = createCache({ ttl: { chunk: 60_000 } })
      .tier(l1)
      .tier(l2)
      .build();
    return { cache, l1, l2, l2inner };
  }

  it("fills compressed, then serves from it after L1 lost the key", async () => {
    const { cache, l1, l2, l2inner } = build();
    const chunk = shuffled(floatField(128 * 1024));
    let loads = 0;
    const loader = async () => (loads++, chunk);
    expect(same(await cache.getOrLoad("ds/c/0/0", loader, { kind: "chunk" }), chunk)).toBe(true);
    await cache.flush();
    expect(l2.stats().storedCompressed).toBe(1);
    expect(l2inner.stats().bytes).toBeLessThan(chunk.byteLength * 0.8);
    const expiresAt = (await l2.get("ds/c/0/0"))!.expiresAt!;
    expect(expiresAt - Date.now()).toBeGreaterThan(55_000);

    await l1.delete("ds/c/0/0");
    expect(same(await cache.getOrLoad("ds/c/0/0", loader, { kind: "chunk" }), chunk)).toBe(true);
    expect(loads).toBe(1);
    expect(cache.levelStats()[1]!.hits).toBe(1);
    // Backfilled into L1 with the remaining TTL carried through the compressed tier (a TTL is
    // relative, so a few milliseconds may tick between reading it and setting it on a busy machine).
    expect(Math.abs((await l1.get("ds/c/0/0"))!.expiresAt! - expiresAt)).toBeLessThanOrEqual(5);
  });

  it("keeps the empty 'absent' marker as empty", async () => {
    const { cache, l1 } = build();
    let loads = 0;
    const loader = async () => (loads++, undefined);
    expect(await cache.getOrLoad("ds/.zattrs", loader)).toBeUndefined();
    await cache.flush();
    await l1.delete("ds/.zattrs");
    expect(await cache.getOrLoad("ds/.zattrs", loader)).toBeUndefined();
    expect(loads).toBe(1);
  });
});
