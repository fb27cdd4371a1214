// compressed(tier): (1) compress/decompress MB/s of node:zlib against fflate, the two
// implementations the package picks between, on realistic float32 chunks (a smooth field with
// noise, with and without a byte shuffle) and on random bytes; (2) the wrapper's overhead on
// incompressible values: set+get of compressed(memory) against the bare memory tier (and
// compressed(disk) against disk when the disk tier builds); (3) for context, what the entropy
// check saves and how fast hits on compressed chunks are with each implementation.
import path from "node:path";
import zlib from "node:zlib";
import { compressed } from "@zarrs-cache/compression";
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

async function tryDisk(dir) {
  try {
    const { disk } = await import("@zarrs-cache/disk");
    return disk({ dir, maxBytes: 1024 * MiB });
  } catch (error) {
    return String(error?.message ?? error);
  }
}

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
    const compress = compareMBps({
      node: () => zlib.deflateSync(data, { level: LEVEL }),
      fflate: () => zlibSync(data, { level: LEVEL }),
    }, data.length);
    const decompress = compareMBps({
      node: () => zlib.inflateSync(packed, { chunkSize: data.length + 1 }),
      fflate: () => unzlibSync(packed, { out: new Uint8Array(data.length + 1) }),
    }, data.length);
    log(`${name}: ratio ${ratio}; compress node ${compress.node.toFixed(0)} / fflate ${compress.fflate.toFixed(0)} MB/s; decompress node ${decompress.node.toFixed(0)} / fflate ${decompress.fflate.toFixed(0)} MB/s`);
    for (const [direction, result] of [["compress", compress], ["decompress", decompress]]) {
      // Random bytes are stored raw by the tier, so their decompression speed is context only.
      const context = direction === "decompress" && name === "random bytes";
      rows.push(row({
        group,
        scenario: `${direction} 1 MiB ${name}: node:zlib`,
        unit: "MB/s",
        value: result.node,
        baseline: "fflate",
        baselineValue: result.fflate,
        target: context ? undefined : ">= 1",
        notes: `zlib format, level ${LEVEL}, ratio ${ratio}:1; ${context ? "no target: the tier stores random bytes raw and never inflates them" : "target: node:zlib at least as fast as fflate (why Node uses it)"}`,
      }));
    }
  }

  // ─── 2. Overhead on incompressible values: set+get, compressed(memory) vs memory ─────────────
  // "header only" turns compression off (minBytes 2^31): what is left is the one extra copy that
  // putting a header in front of the value costs. It is the floor for the default settings.
  for (const size of [64 * KiB, 256 * KiB, MiB]) {
    const count = 16;
    const values = Array.from({ length: count }, (_, i) => randomBytes(size, 100 + i));
    const bare = memory({ maxBytes: 64 * MiB });
    const wrapped = compressed(memory({ maxBytes: 64 * MiB }));
    const headerOnly = compressed(memory({ maxBytes: 64 * MiB }), { minBytes: 2 ** 31 });
    if ((await wrapped.ready()) !== "node:zlib") throw new Error("expected node:zlib by default");
    const setGet = (tier) => async (i) => {
      const key = `ds/c/${i % count}`;
      await tier.set(key, values[i % count]);
      const entry = await tier.get(key);
      if (entry.value.byteLength !== size) throw new Error("bad read");
    };
    // Interleaved rounds; more of them than usual, as the differences sought are a few percent.
    const result = await compareOpsPerSec({ bare: setGet(bare), wrapped: setGet(wrapped), headerOnly: setGet(headerOnly) }, { rounds: 11 });
    const stats = wrapped.stats();
    if (stats.storedCompressed !== 0 || stats.entropySkips !== stats.storedRaw) throw new Error("random bytes were not skipped by the entropy check");
    const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`;
    rows.push(row({
      group,
      scenario: `set+get random ${label}: compressed(memory)`,
      unit: "ops/s",
      value: result.wrapped,
      baseline: "memory",
      baselineValue: result.bare,
      target: ">= 0.95",
      notes: `issue target: overhead <= 5% on incompressible data; entropy check ${((stats.compressMs / stats.storedRaw) * 1000).toFixed(1)} µs per set`,
    }));
    rows.push(row({
      group,
      scenario: `set+get random ${label}: compressed(memory), header only`,
      unit: "ops/s",
      value: result.headerOnly,
      baseline: "memory",
      baselineValue: result.bare,
      notes: "context, no target: compression off; the cost of copying the value behind the 8-byte header",
    }));
    await Promise.all([bare.close(), wrapped.close(), headerOnly.close()]);
  }

  // ─── 2b. The same against the disk tier (where compression is meant to go), if it builds ──────
  {
    const bare = await tryDisk(path.join(tmp, "bare"));
    const inner = await tryDisk(path.join(tmp, "wrapped"));
    if (typeof bare === "string" || typeof inner === "string") {
      log(`disk tier unavailable, skipping compressed(disk) rows: ${typeof bare === "string" ? bare : inner}`);
    } else {
      const wrapped = compressed(inner);
      for (const size of [64 * KiB, MiB]) {
        const count = 16;
        const values = Array.from({ length: count }, (_, i) => randomBytes(size, 200 + i));
        const setGet = (tier) => async (i) => {
          const key = `ds/${size}/c/${i % count}`;
          await tier.set(key, values[i % count]);
          if ((await tier.get(key)).value.byteLength !== size) throw new Error("bad read");
        };
        const result = await compareOpsPerSec({ bare: setGet(bare), wrapped: setGet(wrapped) }, { rounds: 7 });
        const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`;
        rows.push(row({
          group,
          scenario: `set+get random ${label}: compressed(disk)`,
          unit: "ops/s",
          value: result.wrapped,
          baseline: "disk",
          baselineValue: result.bare,
          target: ">= 0.95",
          notes: "issue target: overhead <= 5% on incompressible data, here over the tier compression is meant for",
        }));
      }
      await Promise.all([bare.close(), wrapped.close()]);
    }
  }

  // ─── 3. Context: what the entropy check saves; what compressing costs ────────────────────────
  {
    const random = randomBytes(MiB, 7);
    const checked = compressed(memory({ maxBytes: 16 * MiB }));
    const unchecked = compressed(memory({ maxBytes: 16 * MiB }), { entropyCheck: false });
    await Promise.all([checked.ready(), unchecked.ready()]);
    const result = compareMBps({
      checked: () => checked.set("k", random),
      unchecked: () => unchecked.set("k", random),
    }, MiB, { rounds: 3, roundMs: 200 });
    rows.push(row({
      group,
      scenario: "set random 1 MiB with the entropy check",
      unit: "MB/s",
      value: result.checked,
      baseline: "entropyCheck: false (compress, then store raw)",
      baselineValue: result.unchecked,
      notes: "set() only; memory inner tier",
    }));
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
    rows.push(row({
      group,
      scenario: "get compressed 1 MiB (shuffled float32) from compressed(memory): default (node:zlib)",
      unit: "MB/s",
      value: result.node,
      baseline: "implementation: fflate",
      baselineValue: result.fflate,
      target: ">= 1",
      notes: `stored ${(viaNode.stats().bytesOut / MiB).toFixed(2)} MiB per MiB (ratio ${viaNode.stats().ratio.toFixed(2)}); 1 op = 1 MiB`,
    }));
    await viaNode.close();
    await viaFflate.close();
  }
  return rows;
}
