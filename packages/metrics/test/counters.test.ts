import type { CacheEntry, CacheTier, TierGetOptions } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { expect, it } from "vitest";
import { chunk, gridArray, setup } from "./helpers.js";

/** A second tier that fails every 7th lookup, to put tier errors into the workload. */
function flaky(inner: CacheTier): CacheTier {
  let gets = 0;
  return {
    name: "flaky",
    get: (key: string, options?: TierGetOptions): Promise<CacheEntry | undefined> =>
      ++gets % 7 === 0 ? Promise.reject(new Error("flaky tier")) : inner.get(key, options),
    set: (k, v, o) => inner.set(k, v, o),
    delete: (k) => inner.delete(k),
    has: (k) => inner.has(k),
    clear: () => inner.clear(),
    keys: (p) => inner.keys(p),
    stats: () => inner.stats(),
    close: () => inner.close(),
    onEviction: inner.onEviction?.bind(inner),
  };
}

it("counts exactly what stats() and levelStats() count after a mixed workload", async () => {
  const a = gridArray("/mixed", [32, 32]);
  // A small L1 (evicts), a flaky L2 (errors), absent keys, joins, sets, deletes, invalidations, failed loads.
  const l1 = memory({ maxBytes: 80 * 1024 });
  const { cache, plugin, read } = setup({ arrays: [a] }, [l1, flaky(memory({ maxBytes: 64 * 1024 * 1024 }))], 1024);
  let x = 7;
  const next = () => (x = (x * 48271) % 2147483647);
  for (let i = 0; i < 3000; i++) {
    const r = next() % 100;
    const coords = [next() % 32, next() % 12];
    if (r < 70) await read(chunk(a, coords));
    else if (r < 75) await read(`${chunk(a, coords)}-absent`);
    else if (r < 80)
      await Promise.all([read(chunk(a, [coords[0]!, 20])), read(chunk(a, [coords[0]!, 20])), read(chunk(a, [coords[0]!, 20]))]);
    else if (r < 85) await cache.get(chunk(a, coords));
    else if (r < 90) await cache.set(chunk(a, coords), new Uint8Array(512));
    else if (r < 93) await cache.delete(chunk(a, coords));
    else if (r < 94) await cache.invalidate(chunk(a, [coords[0]!, 1]).slice(0, -2));
    else if (r < 97)
      await cache.getOrLoad(`${chunk(a, coords)}-fails`, async () => Promise.reject(new Error("upstream down"))).catch(() => {});
    else await read(chunk(a, [coords[0]!, 30]));
  }
  await cache.flush();

  const stats = cache.stats();
  const levels = cache.levelStats();
  const snapshot = plugin.snapshot();
  const report = plugin.report();
  expect(snapshot.hits).toBe(stats.hits);
  expect(snapshot.misses).toBe(stats.misses);
  expect(snapshot.absentHits).toBe(stats.absentHits);
  expect(snapshot.sets).toBe(stats.sets);
  expect(snapshot.deletes).toBe(stats.deletes);
  expect(snapshot.backfills).toBe(stats.backfills);
  expect(snapshot.errors).toBe(stats.errors);
  expect(snapshot.joins).toBe(stats.joins);
  expect(snapshot.upstream.loads + snapshot.upstream.errors).toBe(stats.loads);
  expect(report.performanceSummary.averageHitRate).toBe(stats.hits / (stats.hits + stats.misses));
  expect(snapshot.levels.map((l) => [l.tier, l.hits])).toEqual(levels.map((l) => [l.name, l.hits]));
  expect(report.tiers.map((t) => t.hitRate)).toEqual(levels.map((l) => l.hitRate));
  expect(snapshot.levels[0]!.evictions.evict).toBe(levels[0]!.tier.evictions);
  expect(snapshot.levels[1]!.errors).toBeGreaterThan(0);
  expect(snapshot.levels[1]!.errors).toBe(stats.errors);
  // The workload really exercised all of it.
  for (const n of [stats.absentHits, stats.joins, stats.loadErrors, levels[0]!.tier.evictions, stats.backfills, stats.errors])
    expect(n).toBeGreaterThan(0);
  // Lower tiers time every lookup; the first tier one synchronous lookup in 16.
  for (const l of snapshot.levels.slice(1)) expect(l.hitLatency.count + l.missLatency.count).toBe(l.hits + l.misses);
  const l0 = snapshot.levels[0]!;
  expect(l0.hitLatency.count + l0.missLatency.count).toBe(Math.floor((l0.hits + l0.misses) / 16));
  await cache.close();
});

it("takes immutable snapshots, and since() gives the window between two", async () => {
  const a = gridArray("/w", [4, 4]);
  const { cache, plugin, read } = setup({ arrays: [a] });
  for (let i = 0; i < 4; i++) await read(chunk(a, [0, i]));
  const first = plugin.snapshot();
  expect(Object.isFrozen(first)).toBe(true);
  expect(Object.isFrozen(first.levels[0])).toBe(true);
  for (let i = 0; i < 4; i++) await read(chunk(a, [0, i])); // 4 hits
  for (let i = 0; i < 2; i++) await read(chunk(a, [1, i])); // 2 misses
  const window = plugin.since(first);
  expect(first.hits).toBe(0);
  expect([window.reads, window.hits, window.misses, window.upstream.loads]).toEqual([6, 4, 2, 2]);
  expect(window.levels[0]!.hits).toBe(4);
  expect(window.arrays[0]!.reads).toBe(6);
  expect(window.windowStart).toBe(first.takenAt);
  const report = plugin.report({ since: first });
  expect(report.performanceSummary.averageHitRate).toBe(4 / 6);
  expect(report.savings.upstreamRequestsAvoided).toBe(4);
  expect(report.savings.bytesServedFromCache).toBe(4 * 1024);
  await cache.close();
});

it("reports on a time window from its interval checkpoints", async () => {
  const a = gridArray("/t", [4, 4]);
  const { cache, plugin, read } = setup({ arrays: [a], intervalMs: 20 });
  for (let i = 0; i < 4; i++) await read(chunk(a, [0, i])); // 4 misses, long ago
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 4; i++) await read(chunk(a, [0, i])); // 4 hits, now
  const recent = plugin.report({ windowMs: 100 });
  expect(recent.window.ms).toBeGreaterThanOrEqual(100);
  expect(recent.window.ms).toBeLessThan(190);
  expect([recent.performanceSummary.hits, recent.performanceSummary.misses]).toEqual([4, 0]);
  expect(recent.performanceSummary.peakHitRate).toBe(0); // fewer than 10 lookups per interval
  const all = plugin.report();
  expect([all.performanceSummary.hits, all.performanceSummary.misses]).toEqual([4, 4]);
  expect(plugin.formatReport(all)).toContain("hit rate 50.0%");
  await cache.close();
});
