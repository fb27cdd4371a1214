// compressed(tier): (1) compress/decompress MB/s of node:zlib against fflate, the two
// implementations the package picks between, on realistic float32 chunks (a smooth field with
// noise, with and without a byte shuffle) and on random bytes; (2) the wrapper's overhead on
// incompressible values: set+get of compressed(memory) against the bare memory tier and of
// compressed(disk) against disk (when the disk tier builds), measured in finely interleaved rounds
// next to a bare-vs-bare (A/A) pair that shows the noise, plus hits alone for context; (3) for
// context, what the entropy check saves and how fast hits on compressed chunks are with each
// implementation.
import path from "node:path";
import zlib from "node:zlib";
import { compressed } from "@zarrs-cache/compression";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { unzlibSync, zlibSync } from "fflate";
import { compareOpsPerSec, median, randomBytes, row } from "../lib.mjs";

const KiB = 1024;
const MiB = 1024 * KiB;
const LEVEL = 1; // the package's default level
const group = "compression";

/** A smooth 2-D float32 field plus noise (about what a reanalysis temperature chunk looks like). */
function floatField(bytes, seed = 1) {
  const n = bytes >> 2;
  const side = Math.round(Math.sqrt(n));
  const noise = randomBytes(n, seed);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / side);
    const c = i % side;
    values[i] = 280 + 15 * Math.sin(r / 40 + seed) * Math.cos(c / 55) + (noise[i] - 128) / 640;
  }
  return new Uint8Array(values.buffer);
}

/** zarr/blosc byte shuffle: every value's first byte, then every second byte, … */
function shuffled(bytes, itemSize = 4) {
  const n = bytes.length / itemSize;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < n; i++) for (let b = 0; b < itemSize; b++) out[b * n + i] = bytes[i * itemSize + b];
  return out;
}

/**
 * MB/s of `fn` over `bytes` per call, for each candidate, in interleaved rounds (medians).
 * Checks the clock after every call: one fflate compression of a random MiB takes ~40 ms.
 */
function compareMBps(candidates, bytes, { rounds = 5, roundMs = 250 } = {}) {
  const results = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
  const runFor = (fn, ms) => {
    const start = performance.now();
    let n = 0;
    do {
      fn();
      n++;
    } while (performance.now() - start < ms);
    return (n * bytes) / MiB / ((performance.now() - start) / 1000);
  };
  for (const fn of Object.values(candidates)) runFor(fn, 100);
  for (let r = 0; r < rounds; r++) for (const [name, fn] of Object.entries(candidates)) results[name].push(runFor(fn, roundMs));
  return Object.fromEntries(Object.entries(results).map(([name, xs]) => [name, median(xs)]));
}

const KEYS = 16;

const sizeLabel = (size) => (size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`);
const mapValues = (object, f) => Object.fromEntries(Object.entries(object).map(([k, v]) => [k, f(v)]));
const quantile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

/** One set and one get of a random value, cycling over KEYS keys: `op(i)` for interleaved(). */
function setGet(tier, values, prefix) {
  const size = values[0].byteLength;
  return async (i) => {
    const key = `${prefix}/${i % KEYS}`;
    await tier.set(key, values[i % KEYS]);
    if ((await tier.get(key)).value.byteLength !== size) throw new Error("bad read");
  };
}

/**
 * ops/s of each candidate, interleaved finely so that load from elsewhere on this shared machine
 * (and the garbage one candidate leaves for the next to collect) falls on all of them alike: in
 * every round each candidate runs batches of about 2 ms in turn, in a rotating order, until the
 * round's time is up. After a warm-up of each alone, returns per candidate the median over rounds
 * and the median and 10th/90th percentiles of its per-round ratio to `baseline`.
 */
async function interleaved(ops, { baseline, rounds = 25, roundMs = 240, warmupMs = 300 } = {}) {
  const names = Object.keys(ops);
  const next = Object.fromEntries(names.map((name) => [name, 0]));
  const batch = {};
  for (const name of names) {
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < warmupMs) {
      await ops[name](next[name]++);
      n++;
    }
    batch[name] = Math.max(1, Math.min(64, Math.round((n / (performance.now() - start)) * 2)));
  }
  const perRound = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = -1; round < rounds; round++) {
    const time = Object.fromEntries(names.map((name) => [name, 0]));
    const count = Object.fromEntries(names.map((name) => [name, 0]));
    const end = performance.now() + roundMs;
    for (let turn = 0; performance.now() < end; turn++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + turn) % names.length];
        const op = ops[name];
        const start = performance.now();
        for (let j = 0; j < batch[name]; j++) await op(next[name]++);
        time[name] += performance.now() - start;
        count[name] += batch[name];
      }
    }
    if (round >= 0) for (const name of names) perRound[name].push((count[name] / time[name]) * 1000); // round -1 warms up the rotation
  }
  return mapValues(perRound, (xs) => {
    const ratios = xs.map((x, r) => x / perRound[baseline][r]);
    return { median: median(xs), ratio: median(ratios), p10: quantile(ratios, 0.1), p90: quantile(ratios, 0.9) };
  });
}

/**
 * Context row: hits alone on 64 KiB random values (a cache reads far more often than it writes),
 * where the wrapper adds a header check and a view of the inner tier's buffer.
 */
async function hitsRow(name, plain, wrapped) {
  const values = Array.from({ length: KEYS }, (_, i) => randomBytes(64 * KiB, 300 + i));
  for (const tier of [plain, wrapped]) for (const [i, value] of values.entries()) await tier.set(`hits/c/${i}`, value);
  const get = (tier) => async (i) => {
    if ((await tier.get(`hits/c/${i % KEYS}`)).value.byteLength !== 64 * KiB) throw new Error("bad read");
  };
  const result = await interleaved({ bare: get(plain), wrapped: get(wrapped) }, { baseline: "bare", rounds: 15, roundMs: 160 });
  return row({
    group,
    scenario: `get (hit) random 64 KiB: compressed(${name})`,
    unit: "ops/s",
    value: pairedValue(result, "wrapped"),
    baseline: name,
    baselineValue: result.bare.median,
    notes: `context, no target: reads only, ${(1e6 / result.bare.median).toFixed(2)} µs per bare hit; ${noise(result, "wrapped")}`,
  });
}

/**
 * A candidate's ops/s as the bare median times its median per-round ratio, so that a row's ratio
 * is that median ratio: rounds are compared with the bare batches run beside them, which drifting
 * load on the machine cannot skew the way it can skew a ratio of two separate medians.
 */
const pairedValue = (result, name) => result.bare.median * result[name].ratio;

const describeSpread = (result) =>
  Object.entries(result)
    .map(([name, r]) => `${name} ${r.median.toFixed(0)} ops/s (×${r.ratio.toFixed(3)}, p10–p90 ${r.p10.toFixed(2)}–${r.p90.toFixed(2)})`)
    .join("; ");

/** How noisy the row is: its per-round ratios, and a bare-vs-bare (A/A) comparison made in the same rounds. */
const noise = (result, name) =>
  `per-round ratio median ${result[name].ratio.toFixed(3)}, p10–p90 ${result[name].p10.toFixed(2)}–${result[name].p90.toFixed(2)}` +
  (result.aa ? `; A/A (bare vs bare) ${result.aa.ratio.toFixed(3)}, p10–p90 ${result.aa.p10.toFixed(2)}–${result.aa.p90.toFixed(2)}` : "");

export default async function ({ tmp, log }) {
  const rows = [];

  // ─── 1. node:zlib vs fflate, zlib format (the default codec), level 1, 1 MiB chunks ─────────
  const datasets = {
    "float32 field": floatField(MiB, 1),
    "float32 field, shuffled": shuffled(floatField(MiB, 2)),
    "random bytes": randomBytes(MiB, 3),
  };
  for (const [name, data] of Object.entries(datasets)) {
    const packed = zlib.deflateSync(data, { level: LEVEL });
    const ratio = (data.length / packed.length).toFixed(2);
    const compress = compareMBps(
      {
        node: () => zlib.deflateSync(data, { level: LEVEL }),
        fflate: () => zlibSync(data, { level: LEVEL }),
      },
      data.length,
    );
    const decompress = compareMBps(
      {
        node: () => zlib.inflateSync(packed, { chunkSize: data.length + 1 }),
        fflate: () => unzlibSync(packed, { out: new Uint8Array(data.length + 1) }),
      },
      data.length,
    );
    log(
      `${name}: ratio ${ratio}; compress node ${compress.node.toFixed(0)} / fflate ${compress.fflate.toFixed(0)} MB/s; decompress node ${decompress.node.toFixed(0)} / fflate ${decompress.fflate.toFixed(0)} MB/s`,
    );
    for (const [direction, result] of [
      ["compress", compress],
      ["decompress", decompress],
    ]) {
      // Random bytes are stored raw by the tier, so their decompression speed is context only.
      const context = direction === "decompress" && name === "random bytes";
      rows.push(
        row({
          group,
          scenario: `${direction} 1 MiB ${name}: node:zlib`,
          unit: "MB/s",
          value: result.node,
          baseline: "fflate",
          baselineValue: result.fflate,
          target: context ? undefined : ">= 1",
          notes: `zlib format, level ${LEVEL}, ratio ${ratio}:1; ${context ? "no target: the tier stores random bytes raw and never inflates them" : "target: node:zlib at least as fast as fflate (why Node uses it)"}`,
        }),
      );
    }
  }

  // ─── 2. Overhead on incompressible values (the target: <= 5% over the bare tier) ──────
  // set+get of random values through compressed(tier) against the bare tier: same values, same
  // keys, one tier instance each. "header only" turns compression off (minBytes 2^31): what is left
  // is building the header + value buffer. "A/A" is a second bare tier: its ratio and the spread of
  // per-round ratios show how much of a row is noise. A row's ratio is its median per-round ratio.
  for (const size of [64 * KiB, 256 * KiB, MiB]) {
    const values = Array.from({ length: KEYS }, (_, i) => randomBytes(size, 100 + i));
    const tiers = {
      bare: memory({ maxBytes: 64 * MiB }),
      wrapped: compressed(memory({ maxBytes: 64 * MiB })),
      headerOnly: compressed(memory({ maxBytes: 64 * MiB }), { minBytes: 2 ** 31 }),
      aa: memory({ maxBytes: 64 * MiB }),
    };
    if ((await tiers.wrapped.ready()) !== "node:zlib") throw new Error("expected node:zlib by default");
    const result = await interleaved(
      mapValues(tiers, (tier) => setGet(tier, values, "ds/c")),
      { baseline: "bare" },
    );
    const stats = tiers.wrapped.stats();
    if (stats.storedCompressed !== 0 || stats.entropySkips !== stats.storedRaw)
      throw new Error("random bytes were not skipped by the entropy check");
    const label = sizeLabel(size);
    log(`memory ${label}: ${describeSpread(result)}`);
    rows.push(
      row({
        group,
        scenario: `set+get random ${label}: compressed(memory)`,
        unit: "ops/s",
        value: pairedValue(result, "wrapped"),
        baseline: "memory",
        baselineValue: result.bare.median,
        target: ">= 0.95",
        notes: `issue target: overhead <= 5% on incompressible data; ${noise(result, "wrapped")}; entropy check ${((stats.compressMs / stats.storedRaw) * 1000).toFixed(2)} µs per set on average (one value in 16 sampled)`,
      }),
    );
    rows.push(
      row({
        group,
        scenario: `set+get random ${label}: compressed(memory), header only`,
        unit: "ops/s",
        value: pairedValue(result, "headerOnly"),
        baseline: "memory",
        baselineValue: result.bare.median,
        notes: `context, no target: compression off, the cost of the header + value buffer and the wrapper; ${noise(result, "headerOnly")}`,
      }),
    );
    await Promise.all(Object.values(tiers).map((tier) => tier.close()));
  }
  {
    const [plain, wrapped] = [memory({ maxBytes: 64 * MiB }), compressed(memory({ maxBytes: 64 * MiB }))];
    rows.push(await hitsRow("memory", plain, wrapped));
    await Promise.all([plain.close(), wrapped.close()]);
  }

  // ─── 2b. The same against the disk tier (where compression is meant to go) ──────
  {
    const dirs = ["bare", "wrapped", "aa"];
    const [bare, inner, aa] = dirs.map((name) => disk({ dir: path.join(tmp, name), maxBytes: 1024 * MiB }));
    const tiers = { bare, wrapped: compressed(inner), aa };
    for (const size of [64 * KiB, MiB]) {
      const values = Array.from({ length: KEYS }, (_, i) => randomBytes(size, 200 + i));
      const result = await interleaved(
        mapValues(tiers, (tier) => setGet(tier, values, `ds/${size}/c`)),
        { baseline: "bare" },
      );
      const label = sizeLabel(size);
      log(`disk ${label}: ${describeSpread(result)}`);
      rows.push(
        row({
          group,
          scenario: `set+get random ${label}: compressed(disk)`,
          unit: "ops/s",
          value: pairedValue(result, "wrapped"),
          baseline: "disk",
          baselineValue: result.bare.median,
          target: ">= 0.95",
          notes: `issue target: overhead <= 5% on incompressible data, over the tier compression is meant for; ${noise(result, "wrapped")}`,
        }),
      );
    }
    rows.push(await hitsRow("disk", bare, tiers.wrapped));
    await Promise.all([bare.close(), tiers.wrapped.close(), aa.close()]);
  }

  // ─── 3. Context: what the entropy check saves; what compressing costs ────────────────────────
  {
    const random = randomBytes(MiB, 7);
    const checked = compressed(memory({ maxBytes: 16 * MiB }));
    const unchecked = compressed(memory({ maxBytes: 16 * MiB }), { entropyCheck: false });
    await Promise.all([checked.ready(), unchecked.ready()]);
    const result = compareMBps(
      {
        checked: () => checked.set("k", random),
        unchecked: () => unchecked.set("k", random),
      },
      MiB,
      { rounds: 3, roundMs: 200 },
    );
    rows.push(
      row({
        group,
        scenario: "set random 1 MiB with the entropy check",
        unit: "MB/s",
        value: result.checked,
        baseline: "entropyCheck: false (compress, then store raw)",
        baselineValue: result.unchecked,
        notes: "set() only; memory inner tier",
      }),
    );
    await checked.close();
    await unchecked.close();
  }
  {
    // Hits on a compressed tier decompress every time: node:zlib (the default in Node) vs fflate.
    const chunk = shuffled(floatField(MiB, 9));
    const viaNode = compressed(memory({ maxBytes: 16 * MiB }));
    const viaFflate = compressed(memory({ maxBytes: 16 * MiB }), { implementation: "fflate" });
    if ((await viaNode.ready()) !== "node:zlib") throw new Error("expected node:zlib by default");
    await viaNode.set("k", chunk);
    await viaFflate.set("k", chunk);
    const get = (tier) => async () => {
      if ((await tier.get("k")).value.byteLength !== MiB) throw new Error("bad read");
    };
    const result = await compareOpsPerSec({ node: get(viaNode), fflate: get(viaFflate) }, { rounds: 5 });
    rows.push(
      row({
        group,
        scenario: "get compressed 1 MiB (shuffled float32) from compressed(memory): default (node:zlib)",
        unit: "MB/s",
        value: result.node,
        baseline: "implementation: fflate",
        baselineValue: result.fflate,
        target: ">= 1",
        notes: `stored ${(viaNode.stats().bytesOut / MiB).toFixed(2)} MiB per MiB (ratio ${viaNode.stats().ratio.toFixed(2)}); 1 op = 1 MiB`,
      }),
    );
    await viaNode.close();
    await viaFflate.close();
  }
  return rows;
}
