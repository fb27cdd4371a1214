// A hot loop of memory hits reaches the plugin in large batches: totals stay exact, per-key and
// per-array analytics are sampled (see Collector.onHits).
import { expect, it } from "vitest";
import { chunk, gridArray, setup } from "./helpers.js";

it("counts every hit of a hot loop exactly, and estimates per-array reads from a sample", async () => {
  const a = gridArray("/hot", [8, 8]);
  const { cache, plugin, read } = setup({ arrays: [a] });
  const keys = Array.from({ length: 8 }, (_, j) => chunk(a, [0, j]));
  for (const key of keys) await read(key); // 8 misses
  // 2,000 hits with no await in between: batches of 512, then the rest.
  for (let i = 0; i < 2000; i++) cache.peek(keys[i % 8]!);
  const snapshot = plugin.snapshot();
  const stats = cache.stats();
  expect(snapshot.hits).toBe(stats.hits);
  expect(snapshot.hits).toBe(2000);
  expect(snapshot.reads).toBe(2008);
  expect(snapshot.levels[0]!.hits).toBe(cache.levelStats()[0]!.hits);
  const array = snapshot.arrays.find((x) => x.path === "/hot")!;
  // Each batch: its last 64 hits in full, one in 8 before them counted 8 times.
  expect(Math.abs(array.reads - 2008)).toBeLessThan(8 * 4);
  expect(Math.abs(array.hits - 2000)).toBeLessThan(8 * 4);
  // The scan moves one chunk along a row: neighbours, except the wrap from the last to the first.
  const locality = array.neighbourPairs / array.pairs;
  expect(locality).toBeGreaterThan(0.8);
  expect(locality).toBeLessThan(0.9);
  await cache.close();
});
