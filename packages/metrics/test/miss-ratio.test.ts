import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { expect, it } from "vitest";
import { fnv1a, MissRatioEstimator } from "../src/miss-ratio.js";

const KiB = 1024;

/** Skewed reads over 20,000 keys of 2 KiB (deterministic). */
function keys(count: number): string[] {
  let x = 5;
  return Array.from({ length: count }, () => {
    x = (x * 48271) % 2147483647;
    return `/data/c/${Math.floor(20_000 * (x / 2147483647) ** 2)}`;
  });
}

it("predicts an LRU's hit ratio at several sizes from sampled reuse distances", async () => {
  const stream = keys(60_000);
  const estimator = new MissRatioEstimator(2048); // far fewer than the 20,000 keys: it must sample
  for (const key of stream) estimator.access(key, fnv1a(key), 2 * KiB);
  const curve = estimator.curve();
  expect(curve.rate).toBeLessThan(0.2);
  for (const maxBytes of [1024 * KiB, 4096 * KiB, 16_384 * KiB]) {
    // The memory tier counts 128 bytes plus 2 per key character of overhead per entry.
    const payload = maxBytes * (2048 / (2048 + 128 + 2 * 40));
    const cache = createCache().tier(memory({ maxBytes })).build();
    for (const key of stream) await cache.getOrLoad(key, async () => new Uint8Array(2 * KiB));
    const actual = cache.levelStats()[0]!.hitRate;
    expect(Math.abs(curve.hitRatioAt(payload) - actual), `at ${maxBytes} bytes`).toBeLessThan(0.04);
    await cache.close();
  }
  expect(curve.maxHitRatio).toBeGreaterThan(curve.hitRatioAt(16_384 * KiB));
  const bound = curve.bytesFor(0.3)!;
  expect(curve.hitRatioAt(bound)).toBeGreaterThanOrEqual(0.3);
  expect(curve.hitRatioAt(bound * 0.85)).toBeLessThan(0.3);
});
