import { describe, expect, it } from "vitest";
import { chunk, cOrder, gridArray, setup } from "./helpers.js";

describe("spatial locality", () => {
  it("scores a C-order scan of an 8×4×4 grid 96/127", async () => {
    const a = gridArray("/a", [8, 4, 4]);
    const { cache, plugin, read } = setup({ arrays: [a] });
    for (const coords of cOrder([8, 4, 4])) await read(chunk(a, coords));
    const report = plugin.report();
    const array = report.arrays.find((x) => x.path === "/a")!;
    expect(array.reads).toBe(128);
    expect(array.localityScore).toBe(96 / 127);
    expect(report.accessPatterns.spatialLocalityScore).toBe(96 / 127);
    await cache.close();
  });

  it("keeps each array's score when reads of two arrays interleave", async () => {
    const a = gridArray("/group/a", [8, 4, 4]);
    const b = gridArray("/group/b", [8, 4, 4]);
    const { cache, plugin, read } = setup({ arrays: [a, b] });
    for (const coords of cOrder([8, 4, 4])) {
      await read(chunk(a, coords));
      await read(chunk(b, coords));
    }
    const report = plugin.report();
    for (const path of ["/group/a", "/group/b"]) expect(report.arrays.find((x) => x.path === path)!.localityScore).toBe(96 / 127);
    expect(report.accessPatterns.spatialLocalityScore).toBe(96 / 127);
    await cache.close();
  });

  it("scores a random walk low, and places arrays added later with addArray", async () => {
    const a = gridArray("/r", [16, 16]);
    const { cache, plugin, read } = setup();
    plugin.addArray(a);
    let x = 12345;
    for (let i = 0; i < 200; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      await read(chunk(a, [x % 16, (x >> 8) % 16]));
    }
    const score = plugin.report().arrays[0]!.localityScore!;
    expect(score).toBeLessThan(0.2);
    await cache.close();
  });

  it("leaves prefetches out of the score (events marked origin: prefetch)", async () => {
    const a = gridArray("/p", [8, 4, 4]);
    const { cache, plugin, read } = setup({ arrays: [a] });
    const cells = cOrder([8, 4, 4]);
    for (const [i, coords] of cells.entries()) {
      await read(chunk(a, coords));
      // A prefetch of a far-away chunk between demand reads, as a warming plugin would report it.
      const far = cells[(i * 37) % cells.length]!;
      const key = chunk(a, far);
      cache.events.emit("levelMiss", { key, tier: "memory", level: 0, ms: 0.01, origin: "prefetch" } as never);
      cache.events.emit("load", { key, bytes: 10, absent: false, ms: 1, origin: "prefetch" } as never);
    }
    const report = plugin.report();
    expect(report.arrays[0]!.localityScore).toBe(96 / 127);
    expect(report.arrays[0]!.reads).toBe(128);
    expect(report.warming?.prefetched).toBe(128);
    await cache.close();
  });
});
