// The caches a Node user would otherwise pick, on the same byte workloads, in one run:
// bentocache 1.6 (memory L1; memory L1 + Redis L2), cache-manager 7 over Keyv, cacheable 2,
// zarrita's withByteCaching, and ours. Every comparison runs interleaved rounds with the
// baseline measured twice (A/A), and reports the A/A spread next to the ratio.
//
// How each peer stores bytes, as its docs advise:
//  - bentocache L1 only: memoryDriver({ serialize: false }) keeps values by reference (its fastest
//    mode; it then cannot bound by bytes, so maxItems). Two-tier: L2 values must be strings, so a
//    serializer turns Uint8Array into base64 inside JSON (bentocache's `serializer` option).
//  - cache-manager 7 and cacheable 2 go through Keyv 5, whose serializer keeps a Buffer as base64
//    text and gives a Buffer back (a bare Uint8Array would come back as a plain object): values
//    are handed over as Buffers.
//  - ours: createCache().tier(memory()) [+ .tier(redis())], read through withCache's store.get
//    with its safe default (copy "auto": a copy for anything that is not a compressed zarr chunk).
// Needs Redis on 127.0.0.1:6379 for the two-tier rows (own key prefix, removed afterwards).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis } from "@zarrs-cache/redis";
import { withCache } from "@zarrs-cache/zarrita";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisDriver } from "bentocache/drivers/redis";
import { createCache as createCacheManager } from "cache-manager";
import { Cacheable, CacheableMemory, Keyv } from "cacheable";
import { LRUCache } from "lru-cache";
import { ARRAYS, writeDataset } from "quickstart/src/dataset.mjs";
import { readAll as readAllOf } from "quickstart/src/read.mjs";
import { startServer } from "quickstart/src/server.mjs";
import * as zarr from "zarrita";
import { aaNote, compareTimesWithAA, compareWithAA, randomBytes, row } from "../lib.mjs";

const MiB = 1024 * 1024;
const REDIS = { host: "127.0.0.1", port: 6379 };
const group = "peers";

const binarySerializer = {
  serialize: (v) =>
    JSON.stringify(v, (_k, x) =>
      x instanceof Uint8Array ? { $b64: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("base64") } : x,
    ),
  deserialize: (s) =>
    JSON.parse(s, (_k, x) => (x !== null && typeof x === "object" && typeof x.$b64 === "string" ? Buffer.from(x.$b64, "base64") : x)),
};

const sameBytes = (a, b) =>
  a !== undefined &&
  a !== null &&
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** Memory-hit candidates over `keys` holding `values`; each op(i) reads key i % keys.length. */
async function memoryCandidates(keys, values) {
  const upstream = { get: async (p) => values.get(p) };
  const ourCache = createCache()
    .tier(memory({ maxBytes: 512 * MiB }))
    .build();
  const ours = withCache(upstream, ourCache, { namespace: "peers" });
  const oursNoCopy = withCache(upstream, ourCache, { namespace: "peers", copy: false });
  const bento = new BentoCache({
    default: "l1",
    stores: { l1: bentostore().useL1Layer(memoryDriver({ maxItems: 100_000, serialize: false })) },
  });
  const cm = createCacheManager({ stores: [new Keyv({ store: new CacheableMemory({ lruSize: 100_000, useClone: false }) })] });
  const cacheable = new Cacheable({ primary: new Keyv({ store: new CacheableMemory({ lruSize: 100_000, useClone: false }) }) });
  const wbc = zarr.withByteCaching(upstream, { cache: new LRUCache({ max: 100_000 }) });
  const asBuffer = (v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  for (const k of keys) {
    const v = values.get(k);
    await ours.get(k);
    await wbc.get(k);
    await bento.getOrSet({ key: k, factory: () => v });
    await cm.wrap(k, async () => asBuffer(v));
    await cacheable.getOrSet(k, async () => asBuffer(v));
  }
  const k0 = keys[0];
  for (const [name, got] of [
    ["ours", await ours.get(k0)],
    ["bentocache", await bento.getOrSet({ key: k0, factory: () => undefined })],
    ["cache-manager", await cm.wrap(k0, async () => undefined)],
    ["cacheable", await cacheable.getOrSet(k0, async () => undefined)],
  ]) {
    if (!sameBytes(got, values.get(k0))) throw new Error(`${name} did not return the stored bytes on a hit`);
  }
  const key = (i) => keys[i % keys.length];
  const miss = () => {
    throw new Error("unexpected miss");
  };
  return {
    ops: {
      ours: (i) => ours.get(key(i)),
      oursNoCopy: (i) => oursNoCopy.get(key(i)),
      bentocacheL1: (i) => bento.getOrSet({ key: key(i), factory: miss }),
      cacheManager: (i) => cm.wrap(key(i), miss),
      cacheable: (i) => cacheable.getOrSet(key(i), miss),
      withByteCaching: (i) => wbc.get(key(i)),
    },
    close: async () => {
      await bento.disconnectAll();
      await cm.disconnect();
      await cacheable.disconnect();
    },
  };
}

async function memoryHits(size, count, log, rows) {
  const keys = Array.from({ length: count }, (_, i) => `/peers/c/${i}/0`);
  const values = new Map(keys.map((k, i) => [k, randomBytes(size, i + 1)]));
  const { ops, close } = await memoryCandidates(keys, values);
  const label = size >= MiB ? `${size / MiB} MiB` : `${size / 1024} KiB`;
  const { medians, aaSpread } = await compareWithAA(ops, "bentocacheL1", { rounds: 7, roundMs: 200 });
  log(
    `memory hits ${label}: ${JSON.stringify(Object.fromEntries(Object.entries(medians).map(([k, v]) => [k, Math.round(v)])))}, ${aaNote(aaSpread)}`,
  );
  await close();
  const base = medians.bentocacheL1;
  const baseline = "bentocache L1 (memoryDriver, serialize: false)";
  rows.push(
    row({
      group,
      scenario: `memory hits ${label}: ours (safe default) vs bentocache L1`,
      unit: "ops/s",
      value: medians.ours,
      baseline,
      baselineValue: base,
      target: size < MiB ? ">= 3" : undefined,
      notes: aaNote(aaSpread),
    }),
  );
  for (const [name, label2] of [
    ["oursNoCopy", "ours copy: false (the buffer itself, as bentocache serialize: false)"],
    ["cacheManager", "cache-manager 7 (Keyv, Buffer values)"],
    ["cacheable", "cacheable 2 (Keyv, Buffer values)"],
    ["withByteCaching", "zarrita withByteCaching (lru-cache, no copy)"],
  ]) {
    rows.push(
      row({
        group,
        scenario: `memory hits ${label}: ${label2} vs bentocache L1`,
        unit: "ops/s",
        value: medians[name],
        baseline,
        baselineValue: base,
        notes: aaNote(aaSpread),
      }),
    );
  }
}

/** Hits that L1 is too small to hold, so they come from Redis and refill L1 (32 in flight). */
async function twoTierHits(log, rows) {
  const prefix = `zc-bench-peers:${process.pid}:`;
  const size = 8 * 1024;
  const keys = Array.from({ length: 2000 }, (_, i) => `/peers/c/${i}/1`);
  const values = new Map(keys.map((k, i) => [k, randomBytes(size, i + 7)]));
  const tier = redis({ url: `redis://${REDIS.host}:${REDIS.port}`, keyPrefix: `${prefix}ours:`, bus: false });
  const upstream = { get: async (p) => values.get(p) };
  const ours = withCache(
    upstream,
    createCache()
      .tier(memory({ maxBytes: 64 * size }))
      .tier(tier)
      .build(),
    { namespace: "peers" },
  );
  const bento = new BentoCache({
    default: "two",
    serializer: binarySerializer,
    prefix: `${prefix}bento`,
    stores: {
      two: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 64 }))
        .useL2Layer(redisDriver({ connection: REDIS })),
    },
  });
  for (const k of keys) {
    await ours.get(k);
    await bento.getOrSet({ key: k, factory: () => values.get(k) });
  }
  if (!sameBytes(await bento.getOrSet({ key: keys[5], factory: () => undefined }), values.get(keys[5])))
    throw new Error("bentocache two-tier returned other bytes");
  const key = (i) => keys[(i * 7919) % keys.length];
  const miss = () => {
    throw new Error("unexpected miss");
  };
  const { medians, aaSpread } = await compareWithAA(
    { ours: (i) => ours.get(key(i)), bentocacheTwoTier: (i) => bento.getOrSet({ key: key(i), factory: miss }) },
    "bentocacheTwoTier",
    { rounds: 7, roundMs: 250, concurrency: 32 },
  );
  log(`two-tier hits (L2): ours ${Math.round(medians.ours)}/s, bentocache ${Math.round(medians.bentocacheTwoTier)}/s, ${aaNote(aaSpread)}`);
  rows.push(
    row({
      group,
      scenario: "memory + Redis hits from L2, 8 KiB, 32 in flight: ours vs bentocache two-tier",
      unit: "ops/s",
      value: medians.ours,
      baseline: "bentocache memory L1 + Redis L2 (base64 serializer)",
      baselineValue: medians.bentocacheTwoTier,
      target: ">= 1.0",
      notes: aaNote(aaSpread),
    }),
  );
  await tier.clear().catch(() => undefined);
  await tier.close();
  await bento.clear().catch(() => undefined);
  await bento.disconnectAll();
}

/** 64 concurrent reads of one key nobody has yet, upstream 20 ms: time and upstream calls. */
async function concurrentMisses(log, rows) {
  const size = 8 * 1024;
  let calls = 0;
  const value = randomBytes(size, 3);
  const slow = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 20));
    return value;
  };
  let n = 0;
  const fresh = () => `/peers/miss/${n++}`;
  const oursCache = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .build();
  const ours = withCache({ get: slow }, oursCache, { namespace: "peers-miss" });
  const bento = new BentoCache({
    default: "l1",
    stores: { l1: bentostore().useL1Layer(memoryDriver({ maxItems: 100_000, serialize: false })) },
  });
  const cm = createCacheManager({ stores: [new Keyv({ store: new CacheableMemory({ lruSize: 100_000, useClone: false }) })] });
  const cacheable = new Cacheable({ primary: new Keyv({ store: new CacheableMemory({ lruSize: 100_000, useClone: false }) }) });
  const wbc = zarr.withByteCaching({ get: slow }, { cache: new LRUCache({ max: 100_000 }) });
  const callsPer = {};
  const burst = (name, read) => async () => {
    const key = fresh();
    const before = calls;
    await Promise.all(Array.from({ length: 64 }, () => read(key)));
    callsPer[name] = Math.max(callsPer[name] ?? 0, calls - before);
  };
  const { medians, aaSpread } = await compareTimesWithAA(
    {
      ours: burst("ours", (k) => ours.get(k)),
      bentocache: burst("bentocache", (k) => bento.getOrSet({ key: k, factory: slow })),
      cacheManager: burst("cacheManager", (k) => cm.wrap(k, async () => Buffer.from(await slow()))),
      cacheable: burst("cacheable", (k) => cacheable.getOrSet(k, async () => Buffer.from(await slow()))),
      withByteCaching: burst("withByteCaching", (k) => wbc.get(k)),
    },
    "bentocache",
    { rounds: 7 },
  );
  log(
    `64 concurrent misses: ms ${JSON.stringify(Object.fromEntries(Object.entries(medians).map(([k, v]) => [k, +v.toFixed(1)])))}, upstream calls ${JSON.stringify(callsPer)}, ${aaNote(aaSpread)}`,
  );
  for (const name of ["ours", "cacheManager", "cacheable", "withByteCaching"]) {
    rows.push(
      row({
        group,
        scenario: `64 concurrent misses of one key (20 ms upstream): ${name} vs bentocache`,
        unit: "ms",
        value: medians[name],
        baseline: "bentocache getOrSet",
        baselineValue: medians.bentocache,
        notes: `${callsPer[name]} upstream calls (bentocache ${callsPer.bentocache}); ${aaNote(aaSpread)}`,
      }),
    );
  }
  await oursCache.close();
  await bento.disconnectAll();
}

/** Rewrites the unsharded arrays of a quickstart dataset with gzip (level 1) after `bytes`. */
function gzipArrays(dataDir, names) {
  for (const name of names) {
    const metaPath = path.join(dataDir, name, "zarr.json");
    const meta = JSON.parse(fs.readFileSync(metaPath, "utf8"));
    meta.codecs = [
      { name: "bytes", configuration: { endian: "little" } },
      { name: "gzip", configuration: { level: 1 } },
    ];
    fs.writeFileSync(metaPath, JSON.stringify(meta));
    for (const entry of fs.readdirSync(path.join(dataDir, name, "c"), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath ?? entry.path, entry.name);
      fs.writeFileSync(file, zlib.gzipSync(fs.readFileSync(file), { level: 1 }));
    }
  }
}

/** Warm reads of the quickstart dataset, all in memory: ours (safe default, copy: false) vs withByteCaching. */
async function warmEndToEnd(tmp, log, rows) {
  const dataDir = path.join(tmp, "data");
  await writeDataset(dataDir);
  await warmRun(dataDir, ARRAYS, "quickstart (uncompressed)", log, rows);
  const gzDir = path.join(tmp, "data-gzip");
  const gzArrays = { temperature: ARRAYS.temperature, pressure: ARRAYS.pressure };
  await writeDataset(gzDir, { arrays: gzArrays });
  gzipArrays(gzDir, Object.keys(gzArrays));
  await warmRun(gzDir, gzArrays, "quickstart arrays with gzip", log, rows);
}

async function warmRun(dataDir, arrays, label, log, rows) {
  const readAll = (store) => readAllOf(store, arrays);
  const server = await startServer({ root: dataDir, latencyMs: 20 });
  try {
    const wbc = zarr.withByteCaching(new FetchStore(server.url), { cache: new LRUCache({ max: 100_000 }) });
    const safe = withCache(
      new FetchStore(server.url),
      createCache()
        .tier(memory({ maxBytes: 512 * MiB }))
        .build(),
      { namespace: "e2e-safe" },
    );
    const always = withCache(
      new FetchStore(server.url),
      createCache()
        .tier(memory({ maxBytes: 512 * MiB }))
        .build(),
      { namespace: "e2e-copy", copy: true },
    );
    const noCopy = withCache(
      new FetchStore(server.url),
      createCache()
        .tier(memory({ maxBytes: 512 * MiB }))
        .build(),
      { namespace: "e2e-nocopy", copy: false },
    );
    for (const s of [wbc, safe, always, noCopy]) await readAll(s);
    const { medians, aaSpread } = await compareTimesWithAA(
      {
        withByteCaching: () => readAll(wbc),
        oursSafe: () => readAll(safe),
        oursCopyTrue: () => readAll(always),
        oursNoCopy: () => readAll(noCopy),
      },
      "withByteCaching",
      { rounds: 9 },
    );
    log(
      `warm end to end (${label}): ms ${JSON.stringify(Object.fromEntries(Object.entries(medians).map(([k, v]) => [k, +v.toFixed(1)])))}, ${aaNote(aaSpread)}`,
    );
    const base = { baseline: "zarrita withByteCaching warm", baselineValue: medians.withByteCaching, notes: aaNote(aaSpread) };
    rows.push(
      row({
        group,
        scenario: `warm end to end, ${label}: ours safe default (copy "auto")`,
        unit: "ms",
        value: medians.oursSafe,
        target: "<= 1.1",
        ...base,
      }),
    );
    rows.push(row({ group, scenario: `warm end to end, ${label}: ours copy: true`, unit: "ms", value: medians.oursCopyTrue, ...base }));
    rows.push(row({ group, scenario: `warm end to end, ${label}: ours copy: false`, unit: "ms", value: medians.oursNoCopy, ...base }));
  } finally {
    await server.close();
  }
}

export default async function ({ tmp, log }) {
  const rows = [];
  await memoryHits(8 * 1024, 1000, log, rows);
  await memoryHits(MiB, 64, log, rows);
  await twoTierHits(log, rows);
  await concurrentMisses(log, rows);
  await warmEndToEnd(tmp, log, rows);
  return rows;
}
