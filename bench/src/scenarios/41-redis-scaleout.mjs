// Scale-out: 4 worker processes read the same zarr dataset at the same time from a 20 ms HTTP
// remote, each through its own memory tier, and either alone or sharing one Redis.
//  - upstream requests of 4 workers sharing Redis vs the distinct requests of one reader (target <= 1.05)
//  - wall time of 4 workers sharing Redis vs 4 workers with memory tiers only
//  - for reference: the same with the Redis tier's cross-process single-flight off.
// This file is also the worker: forked with ZC_SCALEOUT_WORKER set, it reads and reports.
// Needs Redis on 127.0.0.1:6379 (own key prefix, removed afterwards).
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis } from "@zarrs-cache/redis";
import { withCache } from "@zarrs-cache/zarrita";
import { writeDataset } from "quickstart/src/dataset.mjs";
import { readAll } from "quickstart/src/read.mjs";
import { startServer } from "quickstart/src/server.mjs";
import { median, row } from "../lib.mjs";

const REDIS_URL = "redis://127.0.0.1:6379";
const WORKERS = 4;
const LATENCY_MS = 20;
const MiB = 1024 * 1024;
const GROUP = "redis scale-out";
// A smaller cut of the quickstart dataset (64 plain chunks, 8 shards × 16 inner chunks) so that
// one pass takes seconds, not minutes, at 20 ms per request.
const ARRAYS = {
  temperature: { shape: [32, 256, 256], chunkShape: [8, 64, 64] },
  wind: { shape: [32, 256, 256], shardShape: [16, 128, 128], chunkShape: [4, 64, 64] },
};

if (process.env.ZC_SCALEOUT_WORKER) await runWorker(JSON.parse(process.env.ZC_SCALEOUT_WORKER));

/** One worker: build the cache, wait for "go", read everything, report time, digest and stats. */
async function runWorker({ url, shared, singleFlight, keyPrefix }) {
  let builder = createCache().tier(memory({ maxBytes: 256 * MiB }));
  const tier = shared ? redis({ url: REDIS_URL, keyPrefix, singleFlight }) : undefined;
  if (tier) builder = builder.tier(tier);
  const cache = builder.build();
  const store = withCache(new FetchStore(url), cache, { namespace: "bench-scaleout" });
  // Ready once the invalidation bus listens (it also wakes single-flight waiters); bounded.
  const deadline = Date.now() + 5000;
  while (tier && !tier.busSubscribed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  process.send({ ready: true });
  await new Promise((resolve) => process.once("message", resolve));
  const started = performance.now();
  const data = await readAll(store, ARRAYS);
  const ms = performance.now() - started;
  const hash = createHash("sha256");
  for (const name of Object.keys(data)) for (const tile of data[name]) hash.update(tile);
  await cache.flush();
  process.send({ ms, digest: hash.digest("hex"), redis: tier?.stats() });
  await cache.close();
  process.exit(0);
}

function startWorker(config) {
  const child = fork(fileURLToPath(import.meta.url), { env: { ...process.env, ZC_SCALEOUT_WORKER: JSON.stringify(config) } });
  const messages = [];
  let notify;
  child.on("message", (message) => {
    messages.push(message);
    notify?.();
  });
  const next = (ms) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${child.pid} sent nothing in ${ms} ms`)), ms);
      const check = () => {
        if (messages.length === 0) return;
        clearTimeout(timer);
        notify = undefined;
        resolve(messages.shift());
      };
      notify = check;
      check();
    });
  return { child, next };
}

/** Runs `count` workers together; returns wall ms, upstream requests, digests and Redis stats. */
async function runGroup(server, count, config) {
  const workers = Array.from({ length: count }, () => startWorker({ url: server.url, ...config }));
  try {
    await Promise.all(workers.map((w) => w.next(30_000)));
    server.reset();
    const started = performance.now();
    for (const w of workers) w.child.send("go");
    const reports = await Promise.all(workers.map((w) => w.next(300_000)));
    return { ms: performance.now() - started, requests: server.stats.requests, reports };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
  }
}

async function clearPrefix(keyPrefix) {
  const tier = redis({ url: REDIS_URL, keyPrefix, bus: false });
  try {
    await tier.clear();
  } finally {
    await tier.close();
  }
}

export default async function ({ tmp, log }) {
  const dataDir = path.join(tmp, "data");
  await writeDataset(dataDir, { arrays: ARRAYS });
  const server = await startServer({ root: dataDir, latencyMs: LATENCY_MS });
  const prefixes = [];
  const sharedRun = async (singleFlight) => {
    const keyPrefix = `zc-bench-scaleout:${process.pid}-${prefixes.length}:`;
    prefixes.push(keyPrefix);
    return runGroup(server, WORKERS, { shared: true, singleFlight, keyPrefix });
  };
  try {
    const alone = await runGroup(server, 1, { shared: false });
    const distinct = alone.requests;
    log(`one reader alone: ${distinct} upstream requests, ${Math.round(alone.ms)} ms`);

    // Two rounds of each 4-worker setup, interleaved; medians reported.
    const memoryOnly = [];
    const shared = [];
    for (let round = 0; round < 2; round++) {
      memoryOnly.push(await runGroup(server, WORKERS, { shared: false }));
      shared.push(await sharedRun(true));
    }
    const noSingleFlight = await sharedRun(false);

    const digests = new Set([alone, ...memoryOnly, ...shared, noSingleFlight].flatMap((g) => g.reports.map((r) => r.digest)));
    if (digests.size !== 1) throw new Error(`workers read different bytes (${digests.size} digests)`);
    for (const g of shared) log(`shared: ${g.requests} requests, ${Math.round(g.ms)} ms, redis ${JSON.stringify(sum(g.reports))}`);
    for (const g of memoryOnly) log(`memory only: ${g.requests} requests, ${Math.round(g.ms)} ms`);
    log(`shared, single-flight off: ${noSingleFlight.requests} requests, ${Math.round(noSingleFlight.ms)} ms`);

    const sharedRequests = median(shared.map((g) => g.requests));
    const sharedMs = median(shared.map((g) => g.ms));
    const memoryMs = median(memoryOnly.map((g) => g.ms));
    return [
      row({
        group: GROUP,
        scenario: `${WORKERS} workers, memory + shared Redis: upstream requests`,
        unit: "requests",
        value: sharedRequests,
        baseline: "distinct requests (one reader alone)",
        baselineValue: distinct,
        target: "<= 1.05",
      }),
      row({
        group: GROUP,
        scenario: `${WORKERS} workers, memory + shared Redis: wall time`,
        unit: "ms",
        value: sharedMs,
        baseline: `${WORKERS} workers, memory tiers only`,
        baselineValue: memoryMs,
        notes: `memory only: ${median(memoryOnly.map((g) => g.requests))} upstream requests`,
      }),
      row({
        group: GROUP,
        scenario: `${WORKERS} workers, shared Redis, single-flight off: upstream requests`,
        unit: "requests",
        value: noSingleFlight.requests,
        baseline: "distinct requests (one reader alone)",
        baselineValue: distinct,
        notes: "why the redis tier offers singleFlight",
      }),
    ];
  } finally {
    await server.close();
    for (const keyPrefix of prefixes) await clearPrefix(keyPrefix).catch(() => undefined);
  }
}

function sum(reports) {
  const out = {};
  for (const r of reports) {
    for (const k of ["hits", "misses", "locksTaken", "lockWaits", "lockWaitHits", "lockWaitTimeouts", "lateHits", "errors"])
      out[k] = (out[k] ?? 0) + (r.redis?.[k] ?? 0);
  }
  return out;
}
