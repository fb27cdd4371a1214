// Coalesced shard reads over 20 ms HTTP: one region read covering the 64 inner chunks of one
// shard, cold, through uncached zarrita, zarrita's withRangeCoalescing, and withCache (default
// coalesce). Requests counted at the server; times are medians of interleaved rounds with an A/A
// check of the uncached baseline. Every candidate reads a fresh store (a cold read each round).
import path from "node:path";
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { field, writeShardedArray } from "quickstart/src/dataset.mjs";
import { startServer } from "quickstart/src/server.mjs";
import * as zarr from "zarrita";
import { aaNote, compareTimesWithAA, row } from "../lib.mjs";

const group = "coalesced shard reads (20 ms HTTP)";
const SHAPE = [16, 128, 128];
// One shard of 16 × 128 × 128 holding 4 × 4 × 4 = 64 inner chunks of 4 × 32 × 32 float32 (16 KiB).
const SPEC = { shape: SHAPE, shardShape: SHAPE, chunkShape: [4, 32, 32] };

export default async function ({ tmp, log }) {
  const root = path.join(tmp, "data");
  writeShardedArray(path.join(root, "wind"), { ...SPEC, data: field(SHAPE, 5) });
  const server = await startServer({ root, latencyMs: 20 });
  const requests = {};
  const read = (name, makeStore) => async () => {
    // Index reads as one suffix request, the same for every candidate.
    const store = makeStore(new FetchStore(server.url, { useSuffixRequest: true }));
    const arr = await zarr.open.v3(zarr.root(store).resolve("wind"), { kind: "array" });
    const before = server.stats.byPath.get("/wind/c/0/0/0") ?? 0;
    const out = await zarr.get(arr, null);
    requests[name] = (server.stats.byPath.get("/wind/c/0/0/0") ?? 0) - before;
    return out;
  };
  try {
    const { medians, aaSpread } = await compareTimesWithAA(
      {
        uncached: read("uncached", (s) => s),
        rangeCoalescing: read("rangeCoalescing", (s) => zarr.withRangeCoalescing(s)),
        ours: read("ours", (s) =>
          withCache(
            s,
            createCache()
              .tier(memory({ maxBytes: 64 * 1024 * 1024 }))
              .build(),
          ),
        ),
      },
      "uncached",
      { rounds: 7 },
    );
    log(
      `cold region read of 64 inner chunks: ms ${JSON.stringify(Object.fromEntries(Object.entries(medians).map(([k, v]) => [k, +v.toFixed(1)])))}, shard requests ${JSON.stringify(requests)}, ${aaNote(aaSpread)}`,
    );
    return [
      row({
        group,
        scenario: "64 inner chunks of one shard, cold: withCache vs uncached zarrita (time)",
        unit: "ms",
        value: medians.ours,
        baseline: "uncached FetchStore",
        baselineValue: medians.uncached,
        target: "<= 0.333",
        notes: `${requests.ours} shard requests incl. the index (uncached ${requests.uncached}); ${aaNote(aaSpread)}`,
      }),
      row({
        group,
        scenario: "64 inner chunks of one shard, cold: shard requests incl. the index",
        unit: "requests",
        value: requests.ours,
        baseline: "uncached FetchStore",
        baselineValue: requests.uncached,
        target: "<= 0.05",
      }),
      row({
        group,
        scenario: "64 inner chunks of one shard, cold: zarrita withRangeCoalescing vs uncached (time)",
        unit: "ms",
        value: medians.rangeCoalescing,
        baseline: "uncached FetchStore",
        baselineValue: medians.uncached,
        notes: `${requests.rangeCoalescing} shard requests; ${aaNote(aaSpread)}`,
      }),
    ];
  } finally {
    await server.close();
  }
}
