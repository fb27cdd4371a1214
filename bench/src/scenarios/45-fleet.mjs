// One machine, many processes over one disk cache directory (the quickstart's 20 ms server):
// - 4 processes read the same 128 chunks at the same time: upstream requests against the distinct
//   chunks, and wall time against one process alone (both measured in the same interleaved rounds);
//   the same fleet without cross-process single-flight for reference.
// - the cost of single-flight on cold reads in one process (lease taken and released per miss).
// - L1 memory hits with coherence on (the change log polled every 100 ms while another tier writes)
//   against coherence off.
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { writeDataset } from "quickstart/src/dataset.mjs";
import { startServer } from "quickstart/src/server.mjs";
import { compareOpsPerSec, median, randomBytes, row } from "../lib.mjs";

const MiB = 1024 * 1024;
const group = "fleet (processes sharing one disk directory)";
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fleet-child.mjs");
const ROUNDS = 5;
const PROCESSES = 4;
const CONCURRENCY = 8;

/** Starts `n` processes on `dir`, then lets them read `keys` at the same moment; resolves with their reports and the wall time. */
async function runFleet(n, url, dir, singleFlight, keys) {
  const children = Array.from({ length: n }, () =>
    fork(child, [url, dir, singleFlight ? "on" : "off"], { stdio: ["ignore", "inherit", "inherit", "ipc"] }),
  );
  const message = (c) =>
    new Promise((resolve, reject) => {
      c.once("message", resolve);
      c.once("error", reject);
      c.once("exit", (code) => reject(new Error(`a fleet process exited with code ${code} before answering`)));
    });
  let reports;
  let wall;
  try {
    await Promise.all(children.map(message));
    const t = performance.now();
    reports = await Promise.all(children.map((c) => (c.send({ keys, concurrency: CONCURRENCY }), message(c))));
    wall = performance.now() - t;
  } catch (error) {
    for (const c of children) c.kill();
    throw error;
  }
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
  const retries = reports.reduce((s, r) => s + r.retries, 0);
  if (retries > 0) console.error(`   (${retries} upstream requests retried after a closed keep-alive socket)`);
  const missing = reports.flatMap((r) => r.missing);
  if (missing.length > 0 || reports.some((r) => r.bytes !== reports[0].bytes)) {
    throw new Error(
      `processes read different bytes (${reports.map((r) => r.bytes).join(", ")}); absent: ${missing.slice(0, 5).join(", ")}`,
    );
  }
  return { wall, upstream: reports.reduce((s, r) => s + r.upstream, 0) };
}

export default async function ({ tmp, log }) {
  // FLEET_BENCH=hits runs only the last part (the fleet rounds take minutes on a busy machine).
  const rows = process.env.FLEET_BENCH === "hits" ? [] : await fleetRounds(tmp, log);
  return [...rows, ...(await coldAndHits(tmp, log))];
}

async function fleetRounds(tmp, log) {
  const dataDir = path.join(tmp, "data");
  await writeDataset(dataDir);
  const server = await startServer({ root: dataDir, latencyMs: 20 });
  const keys = [];
  for (let z = 0; z < 8; z++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) keys.push(`/temperature/c/${z}/${y}/${x}`);

  const alone = [];
  const fleet = [];
  const unshared = [];
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    alone.push(await runFleet(1, server.url, path.join(tmp, `cache-${n++}`), true, keys));
    fleet.push(await runFleet(PROCESSES, server.url, path.join(tmp, `cache-${n++}`), true, keys));
    unshared.push(await runFleet(PROCESSES, server.url, path.join(tmp, `cache-${n++}`), false, keys));
  }
  await server.close();
  const fleetUpstream = median(fleet.map((f) => f.upstream));
  const unsharedUpstream = median(unshared.map((f) => f.upstream));
  const aloneWall = median(alone.map((a) => a.wall));
  const fleetWall = median(fleet.map((f) => f.wall));
  log(
    `${PROCESSES} processes: ${fleetUpstream} upstream requests for ${keys.length} chunks (without single-flight ${unsharedUpstream}); wall ${fleetWall | 0} ms vs ${aloneWall | 0} ms alone`,
  );

  const rows = [
    row({
      group,
      scenario: `${PROCESSES} processes, same ${keys.length} chunks at once: upstream requests`,
      unit: "requests",
      value: fleetUpstream,
      baseline: "distinct chunks",
      baselineValue: keys.length,
      target: "<= 1.1",
    }),
    row({
      group,
      scenario: `${PROCESSES} processes without single-flight: upstream requests`,
      unit: "requests",
      value: unsharedUpstream,
      baseline: "distinct chunks",
      baselineValue: keys.length,
    }),
    row({
      group,
      scenario: `${PROCESSES} processes, same chunks at once: wall time`,
      unit: "ms",
      value: fleetWall,
      baseline: "one process alone",
      baselineValue: aloneWall,
      target: "<= 1.2",
    }),
  ];
  return rows;
}

async function coldAndHits(tmp, log) {
  const rows = [];

  // Single-flight's cost on cold reads in one process: every read a miss (a lease taken, then released by the fill).
  const value = randomBytes(8 * 1024, 5);
  const coldCache = (dir, singleFlight) =>
    createCache()
      .tier(memory({ maxBytes: 64 * MiB }))
      .tier(disk({ dir, maxBytes: 4096 * MiB, singleFlight }))
      .build();
  const on = coldCache(path.join(tmp, "cold-on"), true);
  const off = coldCache(path.join(tmp, "cold-off"), false);
  const loader = async () => value;
  const cold = await compareOpsPerSec(
    {
      on: (i) => on.getOrLoad(`cold/${i}`, loader),
      off: (i) => off.getOrLoad(`cold/${i}`, loader),
    },
    { concurrency: 8, rounds: 7, roundMs: 300 },
  );
  await Promise.all([on.close(), off.close()]);
  log(`cold reads (8 KiB, loader answers at once, 8 in flight): single-flight on ${cold.on | 0}/s, off ${cold.off | 0}/s`);
  rows.push(
    row({
      group,
      scenario: "cold reads, single-flight on vs off (no upstream latency)",
      unit: "ops/s",
      value: cold.on,
      baseline: "singleFlight: false",
      baselineValue: cold.off,
    }),
  );

  // L1 hits with coherence on while another tier writes to the directory (the log moves, the feed reads it).
  const dir = path.join(tmp, "coherence");
  const coherent = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .tier(disk({ dir, maxBytes: 256 * MiB }))
    .build();
  const plain = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .tier(disk({ dir, maxBytes: 256 * MiB, coherence: false }))
    .build();
  const hot = Array.from({ length: 1000 }, (_, i) => `hot/${i}`);
  for (const key of hot) {
    await coherent.getOrLoad(key, loader);
    await plain.getOrLoad(key, loader);
  }
  // L1 hits resolve without a macrotask: yield one every 256 reads (both alike), as a server does
  // between requests, so timers (the change-log poll, the other writer) really run during the rounds.
  const yielding = (cache) => (i) => ((i & 255) === 0 ? new Promise((r) => setImmediate(r)) : cache.getOrLoad(hot[i % 1000], loader));
  const idle = await compareOpsPerSec({ off: yielding(plain), on: yielding(coherent) });
  log(`L1 hits, nobody else writing: coherence on ${idle.on | 0}/s, off ${idle.off | 0}/s`);
  rows.push(
    row({
      group,
      scenario: "L1 memory hits, coherence on vs off (no other writer)",
      unit: "ops/s",
      value: idle.on,
      baseline: "coherence: false",
      baselineValue: idle.off,
      target: ">= 0.95",
    }),
  );
  // Another tier writes 100 keys a second to the directory: the coherent cache hears and drops them.
  const writer = disk({ dir, maxBytes: 256 * MiB });
  let w = 0;
  const writes = setInterval(() => writer.setSync(`other/${w++ % 100}`, value), 10);
  const busy = await compareOpsPerSec({ off: yielding(plain), on: yielding(coherent) });
  clearInterval(writes);
  const remote = coherent.levels[1].stats().remoteInvalidations;
  await Promise.all([coherent.close(), plain.close(), writer.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
  log(`L1 hits, another tier writing 100/s: coherence on ${busy.on | 0}/s, off ${busy.off | 0}/s (${remote} remote invalidations heard)`);
  rows.push(
    row({
      group,
      scenario: "L1 memory hits, coherence on vs off (another tier writing 100/s)",
      unit: "ops/s",
      value: busy.on,
      baseline: "coherence: false",
      baselineValue: busy.off,
      target: ">= 0.95",
    }),
  );
  return rows;
}
