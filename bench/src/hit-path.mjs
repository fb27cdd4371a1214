// The cost of an L1 memory hit, alone (issues 10, 11, 12): `node src/hit-path.mjs [rounds]`.
// The same workloads as the memory-hits, metrics and warming scenarios, measured round-robin in
// one run, each group with an A/A pair (the same configuration twice) whose ratio is the noise floor.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createCache, zarrArray } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { metrics } from "@zarrs-cache/metrics";
import { neighbor, predictive, warming } from "@zarrs-cache/warming";
import { withCache } from "@zarrs-cache/zarrita";
import { LRUCache } from "lru-cache";
import { writeDataset } from "quickstart/src/dataset.mjs";
import * as zarr from "zarrita";
import { compareOpsPerSec, randomBytes } from "./lib.mjs";

const rounds = Number(process.argv[2] ?? 9);
const only = process.argv[3];
const KEYS = 1000;
const SIZE = 8 * 1024;
const MiB = 1024 * 1024;
const paths = Array.from({ length: KEYS }, (_, i) => `/temp/c/${i}/0/0`);
const values = new Map(paths.map((p, i) => [p, randomBytes(SIZE, i + 1)]));
const upstream = { get: async (key) => values.get(key) };
const fresh = (i) => `/temp/c/${i % KEYS}/0/0`;
const reused = (i) => paths[i % KEYS];

const ratio = (a, b) => (a / b).toFixed(3);
const out = {};

async function group(name, ops, pairs) {
  const m = await compareOpsPerSec(ops, { rounds });
  const line = pairs.map(([label, a, b]) => `${label} ${ratio(m[a], m[b])}`).join(", ");
  console.log(
    `${name}: ${line}  (${Object.entries(m)
      .map(([k, v]) => `${k} ${(v / 1e6).toFixed(2)}M`)
      .join(" ")})`,
  );
  out[name] = m;
}

if (!only || only === "wbc") {
  const wbc = zarr.withByteCaching(upstream, { cache: new LRUCache({ max: 10_000 }) });
  const wbc2 = zarr.withByteCaching(upstream, { cache: new LRUCache({ max: 10_000 }) });
  const cache = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .build();
  const noCopy = withCache(upstream, cache, { namespace: "bench", copy: false });
  for (const p of paths) await Promise.all([wbc.get(p), wbc2.get(p), noCopy.get(p)]);
  await group(
    "copy:false vs withByteCaching, reused keys",
    { wbc: (i) => wbc.get(reused(i)), wbc2: (i) => wbc2.get(reused(i)), ours: (i) => noCopy.get(reused(i)) },
    [
      ["ours/wbc", "ours", "wbc"],
      ["A/A", "wbc2", "wbc"],
    ],
  );
  await group(
    "copy:false vs withByteCaching, fresh keys",
    { wbc: (i) => wbc.get(fresh(i)), wbc2: (i) => wbc2.get(fresh(i)), ours: (i) => noCopy.get(fresh(i)) },
    [
      ["ours/wbc", "ours", "wbc"],
      ["A/A", "wbc2", "wbc"],
    ],
  );
  await cache.close();
}

if (!only || only === "metrics") {
  const temp = zarrArray(
    {
      zarr_format: 3,
      node_type: "array",
      data_type: "uint8",
      fill_value: 0,
      shape: [KEYS * 4, 4, 4],
      chunk_grid: { name: "regular", configuration: { chunk_shape: [4, 4, 4] } },
      chunk_key_encoding: { name: "default" },
      codecs: [{ name: "bytes" }],
    },
    { path: "/temp" },
  );
  const plain = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .build();
  const plain2 = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .build();
  const measured = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .use(metrics({ arrays: [temp] }))
    .build();
  for (const copy of [false, true]) {
    const s = {
      off: withCache(upstream, plain, { namespace: "bench", copy }),
      off2: withCache(upstream, plain2, { namespace: "bench", copy }),
      on: withCache(upstream, measured, { namespace: "bench", copy }),
    };
    for (const p of paths) for (const store of Object.values(s)) await store.get(p);
    await group(
      `metrics on/off, ${copy ? "safe default" : "copy:false"}`,
      Object.fromEntries(Object.entries(s).map(([n, store]) => [n, (i) => store.get(fresh(i))])),
      [
        ["on/off", "on", "off"],
        ["A/A", "off2", "off"],
      ],
    );
  }
  await Promise.all([plain.close(), plain2.close(), measured.close()]);
}

if (!only || only === "warming") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-hit-path-"));
  await writeDataset(dir, { arrays: { scan: { shape: [160, 320], chunkShape: [16, 16] } } });
  const local = new Map();
  for (const file of fs.readdirSync(path.join(dir, "scan"), { recursive: true })) {
    const full = path.join(dir, "scan", file);
    if (fs.statSync(full).isFile()) local.set(`/scan/${file.split(path.sep).join("/")}`, new Uint8Array(fs.readFileSync(full)));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const mapStore = { get: async (key) => local.get(key) };
  let n = 0;
  const hitStore = (plugin) => {
    let builder = createCache().tier(memory({ maxBytes: 256 * MiB }));
    if (plugin) builder = builder.use(plugin);
    const cache = builder.build();
    return { cache, store: withCache(mapStore, cache, { namespace: `hits-${n++}` }) };
  };
  const s = { without: hitStore(), without2: hitStore(), with: hitStore(warming({ strategies: [neighbor(), predictive()] })) };
  const chunkKeys = [...local.keys()].filter((k) => k.includes("/c/"));
  for (const { store } of Object.values(s)) {
    await zarr.open(zarr.root(store).resolve("scan"), { kind: "array" });
    for (const key of chunkKeys) await store.get(key);
  }
  await group(
    "warming installed vs not",
    Object.fromEntries(Object.entries(s).map(([name, { store }]) => [name, (i) => store.get(chunkKeys[i % chunkKeys.length])])),
    [
      ["with/without", "with", "without"],
      ["A/A", "without2", "without"],
    ],
  );
  for (const { cache } of Object.values(s)) await cache.close();
}
