// json()/text() views and namespace() in Chromium: the codecs use the browser's TextEncoder/TextDecoder.
import { createCache, isZarrsCacheError, json, namespace, text } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";

describe("typed values and namespaces in Chromium", () => {
  it("stores JSON and text as bytes, refuses bytes that are not UTF-8, and keeps namespaces apart", async () => {
    const l1 = memory({ maxBytes: 1 << 20 });
    const cache = createCache().tier(l1).build();
    const tiles = namespace(cache, "tiles");
    const meta = json<{ zoom: number }>(tiles);
    let loads = 0;
    expect(await meta.getOrLoad("z/3", async () => (loads++, { zoom: 3 }))).toEqual({ zoom: 3 });
    expect(await meta.getOrLoad("z/3", async () => (loads++, { zoom: 4 }))).toEqual({ zoom: 3 });
    expect(loads).toBe(1);
    expect(new TextDecoder().decode((await l1.get("zc1|tiles|z/3"))!.value)).toBe('{"zoom":3}');

    const labels = text(namespace(cache, "labels"));
    await labels.set("z/3", "Zürich ✓");
    expect(await labels.get("z/3")).toBe("Zürich ✓");
    await tiles.clear();
    expect(await meta.get("z/3")).toBeUndefined();
    expect(await labels.get("z/3")).toBe("Zürich ✓");

    await l1.set("zc1|labels|bad", new Uint8Array([0xc3]));
    const error = await labels.get("bad").catch((e: unknown) => e);
    expect(isZarrsCacheError(error, "CORRUPT_ENTRY")).toBe(true);
    await cache.close();
  });
});
