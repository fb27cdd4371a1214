// One machine, many processes: N node:cluster workers read the quickstart dataset at the same
// time, each through its own memory tier over ONE shared disk cache directory (optionally plus a
// Redis tier). The disk tier's cross-process single-flight makes one worker load each chunk while
// the others wait for it, so the fleet asks the server for each chunk about once, not N times.
//   cold    every worker reads everything at once, the cache directory empty
//   warm    the same again: every read is a memory hit
// The primary serves the dataset over HTTP on 127.0.0.1 with injected latency (as the quickstart).
//
//   node src/main.mjs [--workers 4] [--latency 20] [--no-single-flight] [--redis redis://127.0.0.1:6379]
//                     [--only temperature,pressure] [--data-dir DIR] [--cache-dir DIR] [--json]
import cluster from "node:cluster";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { ARRAYS, writeDataset } from "quickstart/src/dataset.mjs";
import { startServer } from "quickstart/src/server.mjs";
import * as zarr from "zarrita";

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
// --only: read (and write) only these arrays of the dataset.
const arrays = Object.fromEntries(Object.entries(ARRAYS).filter(([name]) => option("--only", name).split(",").includes(name)));

if (cluster.isPrimary) await primary();
else await worker();

/** Reads every array whole (zarrita fetches its chunks concurrently); returns a digest of each array's bytes. */
async function readArrays(store) {
  const root = zarr.root(store);
  const digests = {};
  for (const name of Object.keys(arrays)) {
    const arr = await zarr.open(root.resolve(name), { kind: "array" });
    const { data } = await zarr.get(arr);
    digests[name] = createHash("sha256")
      .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      .digest("hex")
      .slice(0, 16);
  }
  return digests;
}

/** Counts the reads that reach a store: wrapped around the upstream, they are the upstream requests. */
function counting(store) {
  const counter = { requests: 0, keys: new Set() };
  const wrapped = {
    get: (key, options) => (counter.requests++, counter.keys.add(key), store.get(key, options)),
    getRange: (key, range, options) => (
      counter.requests++, counter.keys.add(`${key} ${JSON.stringify(range)}`), store.getRange(key, range, options)
    ),
  };
  return { store: wrapped, counter };
}

async function worker() {
  const { FLEET_URL: url, FLEET_CACHE_DIR: dir, FLEET_REDIS: redisUrl, FLEET_RUN: run } = process.env;
  const builder = createCache()
    .tier(memory({ maxBytes: 256 * MiB }))
    .tier(disk({ dir, maxBytes: 1024 * MiB, singleFlight: process.env.FLEET_SINGLE_FLIGHT !== "off" }));
  if (redisUrl) {
    const { redis } = await import("@zarrs-cache/redis");
    builder.tier(redis({ url: redisUrl, keyPrefix: `zarrs-cache-fleet:${run}:`, singleFlight: true }));
  }
  const cache = builder.build();
  const upstream = counting(new FetchStore(url));
  const store = withCache(upstream.store, cache, { namespace: "zarrs-cache-quickstart/v1" });
  process.on("message", async (message) => {
    if (message.op === "read") {
      const before = upstream.counter.requests;
      const hitsBefore = cache.levelStats().map((l) => l.hits);
      const t = performance.now();
      const digests = await readArrays(store);
      const ms = performance.now() - t;
      const levels = cache.levelStats().map((l, i) => ({ name: l.name, hits: l.hits - hitsBefore[i] }));
      process.send({ op: "read", ms, upstream: upstream.counter.requests - before, levels, digests, keys: [...upstream.counter.keys] });
    } else if (message.op === "close") {
      if (redisUrl) await cache.levels.at(-1).clear();
      const stats = cache.levelStats().map((l) => ({ name: l.name, hits: l.hits, hitRate: l.hitRate }));
      const { leasesTaken, leaseWaits, leaseWaitHits } = cache.levels[1].stats();
      await cache.close();
      process.send({ op: "closed", stats, leases: { leasesTaken, leaseWaits, leaseWaitHits } });
      process.disconnect();
    }
  });
  process.send({ op: "ready" });
}

async function primary() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const workers = Number(option("--workers", 4));
  const latencyMs = Number(option("--latency", 20));
  if (!Number.isInteger(workers) || workers < 1 || !Number.isFinite(latencyMs) || latencyMs < 0) {
    console.error(
      "usage: node src/main.mjs [--workers N] [--latency ms] [--no-single-flight] [--redis URL] [--data-dir DIR] [--cache-dir DIR] [--json]",
    );
    process.exit(2);
  }
  const dataDir = path.resolve(option("--data-dir", path.join(here, "..", "data")));
  const cacheDir = path.resolve(option("--cache-dir", path.join(os.tmpdir(), `zarrs-cache-fleet-${process.pid}`)));
  const json = args.includes("--json");
  const log = json ? () => {} : console.log;
  const table = (rows) => json || console.table(rows);

  await writeDataset(dataDir, { arrays });
  const server = await startServer({ root: dataDir, latencyMs });
  log(`dataset served at ${server.url} with ${latencyMs} ms latency; ${workers} workers share ${cacheDir}\n`);

  // The baseline: one process, no cache. Its request count is the number of distinct reads.
  const direct = counting(new FetchStore(server.url));
  const expected = await readArrays(direct.store);
  const distinct = direct.counter.keys.size;

  fs.rmSync(cacheDir, { recursive: true, force: true });
  // Workers get the same arguments (--only) and their settings in the environment.
  cluster.setupPrimary({ exec: fileURLToPath(import.meta.url), args });
  let closing = false;
  cluster.on("exit", (w, code) => {
    if (closing || code === 0) return;
    console.error(`a worker exited with code ${code}`);
    process.exit(1);
  });
  const env = {
    FLEET_URL: server.url,
    FLEET_CACHE_DIR: cacheDir,
    FLEET_REDIS: option("--redis", ""),
    FLEET_RUN: String(process.pid),
    FLEET_SINGLE_FLIGHT: args.includes("--no-single-flight") ? "off" : "on",
  };
  const fleet = Array.from({ length: workers }, () => cluster.fork(env));
  const next = (w, op) => new Promise((resolve) => w.once("message", (m) => m.op === op && resolve(m)));
  await Promise.all(fleet.map((w) => next(w, "ready")));

  const phases = [];
  for (const phase of ["cold", "warm"]) {
    server.reset();
    const t = performance.now();
    const replies = await Promise.all(fleet.map((w) => (w.send({ op: "read" }), next(w, "read"))));
    const ms = performance.now() - t;
    const same = replies.every((r) => JSON.stringify(r.digests) === JSON.stringify(expected));
    table(
      replies.map((r, i) => ({
        phase,
        worker: i + 1,
        "upstream requests": r.upstream,
        ...Object.fromEntries(r.levels.map((l) => [`${l.name} hits`, l.hits])),
        "wall ms": Math.round(r.ms),
        "same bytes": JSON.stringify(r.digests) === JSON.stringify(expected) ? "yes" : "NO",
      })),
    );
    const total = replies.reduce((sum, r) => sum + r.upstream, 0);
    log(
      `${phase}: ${total} upstream requests in total (server saw ${server.stats.requests}) for ${distinct} distinct reads: ${(total / distinct).toFixed(2)}×; fleet wall ${Math.round(ms)} ms\n`,
    );
    phases.push({
      phase,
      upstream: total,
      serverRequests: server.stats.requests,
      distinct,
      wallMs: ms,
      perWorker: replies.map((r) => r.upstream),
      same,
    });
  }

  closing = true;
  const closed = await Promise.all(fleet.map((w) => (w.send({ op: "close" }), next(w, "closed"))));
  log("hit rates per worker over both phases (lookups that reached each tier):");
  table(
    closed.map((c, i) => ({
      worker: i + 1,
      ...Object.fromEntries(c.stats.map((l) => [`${l.name} hit rate`, `${(l.hitRate * 100).toFixed(1)}%`])),
      "leases taken": c.leases.leasesTaken,
      "waited for another worker": c.leases.leaseWaits,
    })),
  );
  await server.close();
  fs.rmSync(cacheDir, { recursive: true, force: true });
  const ok = phases.every((p) => p.same);
  if (json) process.stdout.write(`${JSON.stringify({ workers, distinct, phases, workerStats: closed })}\n`);
  log(ok ? "every worker read bytes identical to an uncached read" : "MISMATCH");
  if (!ok) process.exitCode = 1;
}
