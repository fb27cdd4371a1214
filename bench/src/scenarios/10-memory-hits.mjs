// Memory-tier hits through withCache (8 KiB values) against raw lru-cache and zarrita's own
// withByteCaching over lru-cache; and 64 concurrent misses of one key, ours vs withByteCaching.
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { LRUCache } from "lru-cache";
import * as zarr from "zarrita";
import { compareOpsPerSec, randomBytes, row } from "../lib.mjs";

const KEYS = 1000;
const SIZE = 8 * 1024;
const group = "memory hits (8 KiB)";

export default async function ({ log }) {
  const paths = Array.from({ length: KEYS }, (_, i) => `/temp/c/${i}/0/0`);
  const values = new Map(paths.map((p, i) => [p, randomBytes(SIZE, i + 1)]));
  // An in-process "upstream": every key exists; no latency, so only cache overhead is measured.
  const upstream = { get: async (key) => values.get(key) };

  const lru = new LRUCache({ maxSize: 64 * 1024 * 1024, sizeCalculation: (v) => v.byteLength || 1 });
  for (const [k, v] of values) lru.set(k, v);
  const byteCaching = zarr.withByteCaching(upstream, { cache: new LRUCache({ max: 10_000 }) });

  const cache = createCache()
    .tier(memory({ maxBytes: 64 * 1024 * 1024 }))
    .build();
  const safe = withCache(upstream, cache, { namespace: "bench" });
  const noCopy = withCache(upstream, cache, { namespace: "bench", copy: false });
  for (const p of paths) {
    await safe.get(p);
    await byteCaching.get(p);
  }

  // zarrita builds each chunk key afresh per read (location.resolve + the chunk key encoding), so
  // every candidate gets a freshly built string too, as it would in real use.
  const key = (i) => `/temp/c/${i % KEYS}/0/0`;
  const m = await compareOpsPerSec({
    lruRaw: async (i) => lru.get(key(i)),
    lruSlice: async (i) => lru.get(key(i)).slice(),
    wbc: (i) => byteCaching.get(key(i)),
    oursNoCopy: (i) => noCopy.get(key(i)),
    oursSafe: (i) => safe.get(key(i)),
  });
  const { lruRaw, lruSlice, wbc, oursNoCopy, oursSafe } = m;
  log(
    `lru ${lruRaw | 0}/s, lru+slice ${lruSlice | 0}/s, withByteCaching ${wbc | 0}/s, ours copy:false ${oursNoCopy | 0}/s, ours safe ${oursSafe | 0}/s`,
  );

  const rows = [
    row({
      group,
      scenario: "withCache copy:false vs withByteCaching",
      unit: "ops/s",
      value: oursNoCopy,
      baseline: "zarrita withByteCaching(lru-cache)",
      baselineValue: wbc,
      target: ">= 1.0",
    }),
    row({
      group,
      scenario: "withCache (safe copy) vs await lru.get().slice()",
      unit: "ops/s",
      value: oursSafe,
      baseline: "await lru.get(k).slice()",
      baselineValue: lruSlice,
      target: ">= 0.8",
    }),
    row({
      group,
      scenario: "withCache copy:false vs await lru.get()",
      unit: "ops/s",
      value: oursNoCopy,
      baseline: "await lru.get(k)",
      baselineValue: lruRaw,
    }),
  ];

  // 64 concurrent misses of one key against a 20 ms upstream.
  let upstreamCalls = 0;
  const slow = { get: async () => (upstreamCalls++, await new Promise((r) => setTimeout(r, 20)), randomBytes(SIZE, 3)) };
  const cold = createCache()
    .tier(memory({ maxBytes: 8 * 1024 * 1024 }))
    .build();
  const oursCold = withCache(slow, cold, { namespace: "cold" });
  await Promise.all(Array.from({ length: 64 }, () => oursCold.get("/temp/c/0/0/0")));
  const ours = upstreamCalls;
  upstreamCalls = 0;
  const theirs = zarr.withByteCaching(slow, { cache: new LRUCache({ max: 100 }) });
  await Promise.all(Array.from({ length: 64 }, () => theirs.get("/temp/c/0/0/0")));
  rows.push(
    row({
      group: "single-flight",
      scenario: "64 concurrent misses of one key: upstream requests",
      unit: "requests",
      value: ours,
      baseline: "withByteCaching",
      baselineValue: upstreamCalls,
      target: "<= 0.016",
    }),
  );
  await cache.close();
  await cold.close();
  return rows;
}
