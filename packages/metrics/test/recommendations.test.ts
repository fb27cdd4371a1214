import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";
import { chunk, gridArray, setup } from "./helpers.js";

const KiB = 1024;

/** A skewed workload over 1000 chunks: a few are read often, most rarely (deterministic). */
function workload(count: number): number[][] {
  let x = 99;
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    x = (x * 48271) % 2147483647;
    const u = x / 2147483647;
    const n = Math.floor(1000 * u ** 2.5);
    out.push([Math.floor(n / 40), n % 40]);
  }
  return out;
}

describe("recommendations", () => {
  it("suggests a larger L1 maxBytes, and applying it raises the hit rate as predicted", async () => {
    const a = gridArray("/big", [25, 40]);
    const reads = workload(12_000);
    const small = setup({ arrays: [a] }, [memory({ maxBytes: 256 * KiB })], 4 * KiB);
    for (const coords of reads) await small.read(chunk(a, coords));
    const report = small.plugin.report();
    const rec = report.recommendations.find((r) => r.id === "l1-too-small");
    expect(rec, small.plugin.formatReport(report)).toBeDefined();
    expect(rec!.category).toBe("capacity");
    expect(rec!.evidence.evictions).toBeGreaterThan(0);
    const before = small.cache.levelStats()[0]!.hitRate;
    const maxBytes = rec!.suggestion!.maxBytes as number;
    const predicted = rec!.suggestion!.predictedHitRate as number;
    expect(maxBytes).toBeGreaterThan(256 * KiB);
    expect(predicted).toBeGreaterThan(before + 0.1);
    await small.cache.close();

    const sized = setup({ arrays: [a] }, [memory({ maxBytes })], 4 * KiB);
    for (const coords of reads) await sized.read(chunk(a, coords));
    const after = sized.cache.levelStats()[0]!.hitRate;
    expect(after).toBeGreaterThan(before + 0.1);
    expect(Math.abs(after - predicted)).toBeLessThan(0.03);
    // With the suggested size, the recommendation is gone.
    expect(sized.plugin.report().recommendations.find((r) => r.id === "l1-too-small")).toBeUndefined();
    await sized.cache.close();
  });

  it("makes no capacity recommendation when the L1 holds the working set", async () => {
    const a = gridArray("/fits", [25, 40]);
    const { cache, plugin, read } = setup({ arrays: [a] }, [memory({ maxBytes: 64 * 1024 * KiB })], 4 * KiB);
    for (const coords of workload(3000)) await read(chunk(a, coords));
    expect(plugin.report().recommendations.map((r) => r.id)).not.toContain("l1-too-small");
    await cache.close();
  });

  it("recommends neighbour warming for a high-locality array when nothing prefetches", async () => {
    const a = gridArray("/scan", [16, 16]);
    const { cache, plugin, read } = setup({ arrays: [a] });
    for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) await read(chunk(a, [i, j]));
    const rec = plugin.report().recommendations.find((r) => r.id === "enable-warming");
    expect(rec?.evidence).toMatchObject({ array: "/scan", reads: 256 });
    expect(rec!.evidence.localityScore).toBeCloseTo(240 / 255, 4);
    await cache.close();
  });

  it("recommends a lower lookahead when prefetched values are evicted unread", async () => {
    const { cache, plugin } = setup();
    for (let i = 0; i < 40; i++) {
      const key = `/w/c/${i}`;
      cache.events.emit("levelMiss", { key, tier: "memory", level: 0, ms: 0.01, origin: "prefetch" } as never);
      cache.events.emit("load", { key, bytes: 100, absent: false, ms: 2, origin: "prefetch" } as never);
      if (i % 4 !== 0) cache.events.emit("evict", { key, tier: "memory", level: 0, reason: "evict" });
    }
    // Demand reads: one finds a prefetched key, one comes while its prefetch is still loading.
    cache.events.emit("hit", { key: "/w/c/0", tier: "memory", level: 0, absent: false, bytes: 100, ms: 0.01 });
    cache.events.emit("levelMiss", { key: "/w/c/99", tier: "memory", level: 0, ms: 0.01, origin: "prefetch" } as never);
    cache.events.emit("levelMiss", { key: "/w/c/99", tier: "memory", level: 0, ms: 0.01 });
    const report = plugin.report();
    expect(report.warming).toMatchObject({ prefetched: 40, used: 1, wasted: 30, late: 1 });
    expect(report.recommendations.find((r) => r.id === "warming-wastes")?.evidence).toMatchObject({ wasted: 30, prefetched: 40 });
    await cache.close();
  });

  it("flags a failing tier, dropped writes, too-large values and absent keys asked again", async () => {
    const failing = memory({ maxBytes: 1024 * KiB });
    failing.get = async () => {
      throw new Error("disk unplugged");
    };
    const tiny = memory({ maxBytes: 2 * KiB });
    const { cache, plugin, read } = setup({}, [tiny, failing], 4 * KiB);
    for (let i = 0; i < 40; i++) await read(`/k/${i}`); // values too large for the 2 KiB L1; L2 fails
    for (let i = 0; i < 20; i++) await read(`/absent/${i}`);
    await cache.invalidate("zc1"); // nothing matches the prefix; absent entries stay
    for (let i = 0; i < 20; i++) {
      await cache.delete(`/absent/${i}`);
      await read(`/absent/${i}`);
    }
    const ids = plugin.report().recommendations.map((r) => r.id);
    expect(ids).toContain("tier-errors");
    expect(ids).toContain("too-large");
    expect(ids).toContain("absent-ttl");
    expect(plugin.report().recommendations[0]!.priority).toBe("high");
    await cache.close();
  });
});
