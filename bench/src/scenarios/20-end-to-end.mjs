// End to end over 20 ms HTTP on the quickstart dataset: uncached vs cold vs warm (memory) vs a
// fresh process reading warm from disk, plus zarrita's withByteCaching warm for reference.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { LRUCache } from "lru-cache";
import { writeDataset } from "quickstart/src/dataset.mjs";
import { readAll } from "quickstart/src/read.mjs";
import { startServer } from "quickstart/src/server.mjs";
import * as zarr from "zarrita";
import { median, row } from "../lib.mjs";

const MiB = 1024 * 1024;
const group = "end to end (20 ms HTTP)";
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "child-read.mjs");

export default async function ({ tmp, log }) {
  const dataDir = path.join(tmp, "data");
  await writeDataset(dataDir);
  const server = await startServer({ root: dataDir, latencyMs: 20 });
  const timed = async (fn) => {
    server.reset();
    const t = performance.now();
    await fn();
    return { ms: performance.now() - t, requests: server.stats.requests };
  };
  const makeCache = (dir) =>
    createCache()
      .tier(memory({ maxBytes: 256 * MiB }))
      .tier(disk({ dir, maxBytes: 1024 * MiB }))
      .build();

  const uncached = [];
  const cold = [];
  const warm = [];
  let lastDir;
  // Alternate uncached and cold rounds so load elsewhere on the machine hits both alike.
  for (let r = 0; r < 3; r++) {
    uncached.push(await timed(() => readAll(new FetchStore(server.url))));
    lastDir = path.join(tmp, `cache-${r}`);
    const cache = makeCache(lastDir);
    const store = withCache(new FetchStore(server.url), cache, { namespace: "bench-e2e" });
    cold.push(await timed(() => readAll(store)));
    for (let w = 0; w < 2; w++) warm.push(await timed(() => readAll(store)));
    await cache.close();
  }
  const wbcStore = zarr.withByteCaching(new FetchStore(server.url), { cache: new LRUCache({ max: 100_000 }) });
  await readAll(wbcStore);
  const wbcWarm = [];
  for (let w = 0; w < 5; w++) wbcWarm.push(await timed(() => readAll(wbcStore)));

  const fromDisk = [];
  for (let r = 0; r < 3; r++) {
    server.reset();
    const out = execFileSync(process.execPath, [child, server.url, lastDir, "bench-e2e"], { encoding: "utf8" });
    fromDisk.push({ ms: JSON.parse(out.trim().split("\n").pop()).ms, requests: server.stats.requests });
  }
  await server.close();

  const m = (xs) => median(xs.map((x) => x.ms));
  const requests = (xs) => Math.max(...xs.map((x) => x.requests));
  log(
    `uncached ${m(uncached).toFixed(0)} ms (${requests(uncached)} requests), cold ${m(cold).toFixed(0)} ms, warm ${m(warm).toFixed(1)} ms (${requests(warm)} requests), fresh process from disk ${m(fromDisk).toFixed(1)} ms (${requests(fromDisk)} requests), withByteCaching warm ${m(wbcWarm).toFixed(1)} ms`,
  );
  return [
    row({
      group,
      scenario: "warm (memory) read time vs uncached",
      unit: "ms",
      value: m(warm),
      baseline: "uncached FetchStore",
      baselineValue: m(uncached),
      target: "<= 0.01",
      notes: `${requests(warm)} upstream requests when warm`,
    }),
    row({
      group,
      scenario: "cold read time vs uncached",
      unit: "ms",
      value: m(cold),
      baseline: "uncached FetchStore",
      baselineValue: m(uncached),
      target: "<= 1.05",
    }),
    row({
      group,
      scenario: "fresh process, warm from disk, vs uncached",
      unit: "ms",
      value: m(fromDisk),
      baseline: "uncached FetchStore",
      baselineValue: m(uncached),
      target: "<= 0.05",
      notes: `${requests(fromDisk)} upstream requests`,
    }),
    row({
      group,
      scenario: "warm (memory) vs zarrita withByteCaching warm",
      unit: "ms",
      value: m(warm),
      baseline: "withByteCaching(lru-cache) warm",
      baselineValue: m(wbcWarm),
    }),
  ];
}
