import v8 from "node:v8";
import vm from "node:vm";
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { expect, it } from "vitest";
import { metrics } from "../src/index.js";
import { chunk, gridArray } from "./helpers.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

it("holds at most 8 MiB after 1,000,000 distinct keys", () => {
  const before = heapUsed();
  const arrays = [gridArray("/huge", [1000, 1000]), gridArray("/other", [100, 100])];
  const plugin = metrics({ arrays });
  const cache = createCache()
    .tier(memory({ maxBytes: 1024 }))
    .use(plugin)
    .build();
  const e = cache.events;
  for (let i = 0; i < 1_000_000; i++) {
    // Every key once: a chunk of a known array, an absent key, or a key of no known array.
    const key = i % 10 < 8 ? chunk(arrays[0]!, [Math.floor(i / 1000), i % 1000]) : i % 10 === 8 ? `/absent/${i}` : `/loose/${i}/x`;
    e.emit("levelMiss", { key, tier: "memory", level: 0, ms: 0.001 });
    e.emit("miss", { key });
    e.emit("load", { key, bytes: i % 10 === 8 ? 0 : 4096, absent: i % 10 === 8, ms: 1.5 });
    if (i % 4 === 0) e.emit("evict", { key, tier: "memory", level: 0, reason: "evict" });
    if (i % 3 === 0) e.emit("hit", { key, tier: "memory", level: 0, absent: false, bytes: 4096, ms: 0.001 });
  }
  const retained = heapUsed() - before;
  const report = plugin.report();
  expect(report.performanceSummary.reads).toBe(1_000_000 + Math.ceil(1_000_000 / 3));
  expect(report.upstream.loads).toBe(1_000_000);
  expect(retained).toBeLessThanOrEqual(8 * 1024 * 1024);
  void cache.close();
}, 120_000);
