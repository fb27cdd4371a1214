// The metrics plugin's cost: memory hits through withCache with metrics on vs off (copy:false and
// the safe default, 8 KiB values), and prometheus() for 100 arrays × 3 tiers.
import { createCache, zarrArray } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { metrics } from "@zarrs-cache/metrics";
import { withCache } from "@zarrs-cache/zarrita";
import { compareOpsPerSec, median, randomBytes, row } from "../lib.mjs";

const KEYS = 1000;
const SIZE = 8 * 1024;
const group = "metrics";

function array(path, grid) {
  return zarrArray(
    {
      zarr_format: 3,
      node_type: "array",
      data_type: "uint8",
      fill_value: 0,
      shape: grid.map((n) => n * 4),
      chunk_grid: { name: "regular", configuration: { chunk_shape: grid.map(() => 4) } },
      chunk_key_encoding: { name: "default" },
      codecs: [{ name: "bytes" }],
    },
    { path },
  );
}

export default async function ({ log }) {
  const temp = array("/temp", [KEYS, 1, 1]);
  const paths = Array.from({ length: KEYS }, (_, i) => `/temp/c/${i}/0/0`);
  const values = new Map(paths.map((p, i) => [p, randomBytes(SIZE, i + 1)]));
  const upstream = { get: async (key) => values.get(key) };

  const plain = createCache()
    .tier(memory({ maxBytes: 64 * 1024 * 1024 }))
    .build();
  const plugin = metrics({ arrays: [temp] });
  const measured = createCache()
    .tier(memory({ maxBytes: 64 * 1024 * 1024 }))
    .use(plugin)
    .build();
  const stores = {
    offNoCopy: withCache(upstream, plain, { namespace: "bench", copy: false }),
    onNoCopy: withCache(upstream, measured, { namespace: "bench", copy: false }),
    offSafe: withCache(upstream, plain, { namespace: "bench" }),
    onSafe: withCache(upstream, measured, { namespace: "bench" }),
  };
  for (const p of paths) {
    await stores.offSafe.get(p);
    await stores.onSafe.get(p);
  }
  const key = (i) => `/temp/c/${i % KEYS}/0/0`;
  const m = await compareOpsPerSec(Object.fromEntries(Object.entries(stores).map(([name, store]) => [name, (i) => store.get(key(i))])));
  log(`metrics off/on: copy:false ${m.offNoCopy | 0}/${m.onNoCopy | 0} ops/s, safe ${m.offSafe | 0}/${m.onSafe | 0} ops/s`);
  const reads = plugin.snapshot().reads;
  await plain.close();
  await measured.close();

  // prometheus() with 100 arrays × 3 tiers, every array read.
  const arrays = Array.from({ length: 100 }, (_, i) => array(`/group/a${i}`, [64, 64]));
  const big = metrics({ arrays, maxArrayLabels: 100 });
  const cache = createCache()
    .tier(memory({ maxBytes: 1024 * 1024 }))
    .tier(memory({ maxBytes: 8 * 1024 * 1024 }))
    .tier(memory({ maxBytes: 64 * 1024 * 1024 }))
    .use(big)
    .build();
  const store = withCache(upstream, cache, { namespace: "prom" });
  for (const a of arrays) for (let i = 0; i < 20; i++) await store.get(`${a.path}/c/${i}/${i}`).catch(() => {});
  const text = big.prometheus();
  const times = [];
  for (let i = 0; i < 60; i++) {
    const t = performance.now();
    big.prometheus();
    times.push(performance.now() - t);
  }
  const promMs = median(times.slice(10));
  log(
    `prometheus(): ${promMs.toFixed(2)} ms median for ${text.length} bytes, ${text.split("\n").length} lines; ${reads} reads counted in the hit runs`,
  );
  await cache.close();

  return [
    row({
      group,
      scenario: "memory hits, metrics on vs off (copy:false)",
      unit: "ops/s",
      value: m.onNoCopy,
      baseline: "metrics off (copy:false)",
      baselineValue: m.offNoCopy,
      target: ">= 0.9",
    }),
    row({
      group,
      scenario: "memory hits, metrics on vs off (safe default)",
      unit: "ops/s",
      value: m.onSafe,
      baseline: "metrics off (safe default)",
      baselineValue: m.offSafe,
      target: ">= 0.95",
    }),
    row({
      group,
      scenario: "prometheus() for 100 arrays × 3 tiers",
      unit: "ms",
      value: promMs,
      baseline: "5 ms budget",
      baselineValue: 5,
      target: "<= 1.0",
    }),
  ];
}
