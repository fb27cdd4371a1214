// pnpm soak: several processes on several "nodes" read and change objects through memory + disk
// + Redis while Redis is paused, killed and cut off, processes are SIGKILLed and the upstream turns
// flaky; then a checker goes through every operation's history. See docs/soak.md.
//   node src/soak/run.mjs [--seconds 120] [--nodes 2] [--per-node 2] [--seed 1] [--keep]
// Exit code 1 when any read returned wrong bytes or was stale in a promised class.
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { check, CLASSES, PROMISED } from "./checker.mjs";
import { faultDeck, runFaults } from "./faults.mjs";
import { catalogue } from "./objects.mjs";
import { startProxy, startRedisServer } from "./redis-process.mjs";
import { startUpstream } from "./upstream.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
// `pnpm soak -- --seconds 30` passes the "--" along.
const argv = process.argv.slice(2);
if (argv[0] === "--") argv.shift();
const { values: args } = parseArgs({
  args: argv,
  options: {
    seconds: { type: "string", default: "120" },
    nodes: { type: "string", default: "2" },
    "per-node": { type: "string", default: "2" },
    loops: { type: "string", default: "3" },
    "pause-ms": { type: "string", default: "12" },
    seed: { type: "string", default: String(Date.now() % 1e6) },
    "bus-bound-ms": { type: "string", default: "1000" },
    "heal-bound-ms": { type: "string", default: "2000" },
    "no-faults": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    timelines: { type: "boolean", default: false },
  },
});
const seconds = Number(args.seconds);
const machines = Number(args.nodes);
const perNode = Number(args["per-node"]);
const slots = machines * perNode;
const seed = Number(args.seed);
const busBoundMs = Number(args["bus-bound-ms"]);
const healBoundMs = Number(args["heal-bound-ms"]);
for (const [name, value] of Object.entries({ seconds, nodes: machines, "per-node": perNode, seed, busBoundMs, healBoundMs })) {
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number >= 0, got ${value}`);
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[${((now() - t0) / 1000).toFixed(1).padStart(6)} s]`, ...a);
function seeded(s) {
  let x = (s * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
const random = seeded(seed);

/** Tier counters summed over the processes that stopped cleanly. */
const TIER_COUNTERS = [
  "evictions",
  "corruptions",
  "rebuilds",
  "errors",
  "timeouts",
  "rejected",
  "breakerOpens",
  "resyncs",
  "published",
  "publishErrors",
  "received",
  "subscriberLosses",
  "locksTaken",
  "lockWaits",
  "lockWaitTimeouts",
];

const objectConfig = { direct: 24, zarr: 24, colliding: 4 };
const objects = catalogue(objectConfig);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zc-soak-"));
let t0 = now();
fs.mkdirSync(path.join(tmp, "redis"));
const redisServer = await startRedisServer({ dir: path.join(tmp, "redis") });
const proxies = await Promise.all(Array.from({ length: machines }, () => startProxy(redisServer.port)));
const upstream = await startUpstream({ objectIds: objects.map((o) => o.id), now, random });
log(`redis-server pid ${redisServer.pid} on port ${redisServer.port}, upstream ${upstream.url}`);
log(`${slots} processes on ${machines} nodes, seed ${seed}, dir ${tmp}`);

// ─── processes ───────────────────────────────────────────────────────────────
const machineOf = (slot) => Math.floor(slot / perNode);
const incarnations = [];
const current = new Map(); // slot → incarnation
const machineDown = [];
let phase = "starting"; // starting → running → sweeping → stopping
const generations = new Map();

function liveOn(machine) {
  return [...current.values()].filter((inc) => inc.machine === machine && inc.killedAt === undefined && inc.readyAt !== undefined);
}

async function spawnProcess(slot) {
  const gen = generations.get(slot) ?? 0;
  generations.set(slot, gen + 1);
  const machine = machineOf(slot);
  const name = `p${slot}.${gen}`;
  const inc = { name, slot, gen, machine, history: path.join(tmp, `history-${name}.jsonl`), offset: 0, tolerance: 1 };
  incarnations.push(inc);
  current.set(slot, inc);
  const config = {
    slot,
    slots,
    machine,
    objects: objectConfig,
    upstream: upstream.url,
    upstreamTimeoutMs: 3000,
    redisUrl: `redis://127.0.0.1:${proxies[machine].port}`,
    keyPrefix: "zc-soak:",
    diskDir: path.join(tmp, `node-${machine}`),
    memoryBytes: 96 * 1024,
    diskBytes: 8 * 1024 * 1024,
    history: inc.history,
    loops: Number(args.loops),
    pauseMs: Number(args["pause-ms"]),
    changeShare: 0.08,
  };
  const child = fork(path.join(here, "worker.mjs"), {
    env: { ...process.env, ZC_SOAK_WORKER: JSON.stringify(config) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  inc.child = child;
  inc.inbox = [];
  inc.waiters = [];
  child.on("message", (message) => {
    const waiter = inc.waiters.findIndex((w) => w.match(message));
    if (waiter !== -1) inc.waiters.splice(waiter, 1)[0].resolve(message);
    else inc.inbox.push(message);
  });
  child.on("exit", (code, signal) => {
    inc.exitedAt = now();
    for (const w of inc.waiters) w.reject(new Error(`${inc.name} exited (${signal ?? code})`));
    inc.waiters = [];
    if (inc.killedAt === undefined && phase !== "stopping") {
      inc.killedAt = now();
      inc.unexpectedExit = { code, signal };
      log(`!! ${inc.name} exited by itself (${signal ?? code}); respawning`);
      if (phase === "running") setTimeout(() => void spawnProcess(slot).catch((e) => log(`respawn failed: ${e.message}`)), 500);
    }
  });
  const ready = await next(inc, (m) => m?.ready, 60_000);
  await syncClock(inc);
  inc.readyAt = now();
  inc.subscribed = ready.subscribed;
  const down = machineDown.find((d) => d.machine === machine && d.end === undefined);
  if (down) down.end = inc.readyAt;
  if (phase === "running") child.send("go");
  return inc;
}

function next(inc, match, ms) {
  const queued = inc.inbox.findIndex(match);
  if (queued !== -1) return Promise.resolve(inc.inbox.splice(queued, 1)[0]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${inc.name}: no answer in ${ms} ms`)), ms);
    inc.waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)), reject: (e) => (clearTimeout(timer), reject(e)) });
  });
}

/** Offset of the process's clock to ours from the round trip with the smallest delay (Cristian). */
async function syncClock(inc) {
  let best;
  for (let i = 0; i < 7; i++) {
    const sent = now();
    inc.child.send({ sync: i });
    const { t } = await next(inc, (m) => m?.sync === i, 5000);
    const back = now();
    if (!best || back - sent < best.rtt) best = { rtt: back - sent, offset: (sent + back) / 2 - t };
  }
  inc.offset = best.offset;
  inc.tolerance = best.rtt / 2 + 1;
}

function killProcess(slot) {
  const inc = current.get(slot);
  if (!inc || inc.killedAt !== undefined) return;
  inc.killedAt = now();
  inc.child.kill("SIGKILL");
  if (liveOn(inc.machine).length === 0 && !machineDown.some((d) => d.machine === inc.machine && d.end === undefined)) {
    machineDown.push({ machine: inc.machine, start: inc.killedAt, end: undefined });
  }
}

// ─── the run ─────────────────────────────────────────────────────────────────
const world = {
  now,
  machines,
  slots,
  slotsOf: (machine) => Array.from({ length: slots }, (_, s) => s).filter((s) => machineOf(s) === machine),
  pauseRedis: () => redisServer.pause(),
  resumeRedis: () => redisServer.resume(),
  killRedis: () => redisServer.kill(),
  restartRedis: () => redisServer.restart(),
  cut: (machine) => proxies[machine].cut(),
  heal: (machine) => proxies[machine].heal(),
  killProcess,
  // A process that does not come back is logged; the run goes on without it.
  respawn: (slot) => spawnProcess(slot).catch((error) => log(`!! respawn of process ${slot} failed: ${error.message}`)),
  flaky: (on) => upstream.setFlaky(on),
};

let exitCode = 1;
let report;
try {
  await Promise.all(Array.from({ length: slots }, (_, slot) => spawnProcess(slot)));
  t0 = now();
  phase = "running";
  for (const inc of current.values()) inc.child.send("go");
  log(`running for ${seconds} s`);
  const runMs = seconds * 1000;
  const faults = [];
  const faultsDone = args["no-faults"]
    ? Promise.resolve([])
    : sleep(runMs * 0.1).then(() =>
        runFaults({ world, deck: faultDeck(random), random, until: () => now() - t0 > runMs * 0.7, log, sleep, healBoundMs }).then((f) =>
          faults.push(...f),
        ),
      );
  await sleep(runMs);
  await faultsDone;

  phase = "sweeping";
  log("final sweep: every process reads every object once");
  await Promise.all(
    [...current.values()].map(async (inc) => {
      inc.child.send("sweep");
      await next(inc, (m) => m?.swept, 60_000);
    }),
  );
  phase = "stopping";
  const stats = [];
  await Promise.all(
    [...current.values()].map(async (inc) => {
      inc.child.send("stop");
      try {
        stats.push((await next(inc, (m) => m?.stats, 15_000)).stats);
      } catch (error) {
        log(`${inc.name} did not stop: ${error.message}`);
        inc.child.kill("SIGKILL");
      }
    }),
  );

  // ─── check ──────────────────────────────────────────────────────────────────
  let unreadable = 0;
  for (const inc of incarnations) {
    inc.records = [];
    const text = fs.existsSync(inc.history) ? fs.readFileSync(inc.history, "utf8") : "";
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        inc.records.push(JSON.parse(line));
      } catch {
        unreadable++;
      }
    }
  }
  const result = check({ incarnations, applied: upstream.applied, faults, machineDown, t0, busBoundMs, healBoundMs });
  const faultCounts = {};
  for (const f of faults) faultCounts[f.kind] = (faultCounts[f.kind] ?? 0) + 1;
  const unexpectedExits = incarnations.filter((i) => i.unexpectedExit).map((i) => ({ name: i.name, ...i.unexpectedExit }));
  const promisedStale = PROMISED.reduce((sum, k) => sum + result.stale[k].reads, 0);
  const pass = promisedStale === 0 && result.wrong.total === 0;
  exitCode = pass ? 0 : 1;
  report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    config: {
      seconds,
      nodes: machines,
      processesPerNode: perNode,
      seed,
      busBoundMs,
      healBoundMs,
      objects: objects.length,
      loops: Number(args.loops),
      pauseMs: Number(args["pause-ms"]),
      faults: !args["no-faults"],
    },
    verdict: pass ? "pass" : "FAIL",
    faults: {
      count: faults.length,
      byKind: faultCounts,
      timeline: faults.map((f) => ({ ...f, start: Math.round(f.start - t0), healed: Math.round(f.healed - t0) })),
    },
    machineDown: machineDown.map((d) => ({ machine: d.machine, start: Math.round(d.start - t0), end: d.end && Math.round(d.end - t0) })),
    processes: {
      incarnations: incarnations.length,
      unexpectedExits,
      unreadableHistoryLines: unreadable,
      maxClockOffsetMs: Math.max(...incarnations.map((i) => Math.abs(i.offset))),
    },
    ...result,
    upstream: upstream.counters,
    tiers: sumStats(stats),
  };
  printTable(report);
} finally {
  phase = "stopping";
  for (const inc of current.values()) if (inc.child.exitCode === null && inc.child.signalCode === null) inc.child.kill("SIGKILL");
  await redisServer.stop().catch(() => undefined);
  await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
  await upstream.close();
  if (!args.keep) fs.rmSync(tmp, { recursive: true, force: true });
}

if (report) {
  const out = path.join(here, "..", "..", "results", "soak-latest.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  console.error(`wrote ${path.relative(process.cwd(), out)}${args.keep ? `; histories kept in ${tmp}` : ""}`);
}
process.exit(exitCode);

/** Sums the numeric counters of the processes that stopped cleanly (killed ones took theirs along). */
function sumStats(all) {
  const out = { processes: all.length, cache: {}, errorsByTier: {} };
  const add = (into, from, keys) => {
    for (const [k, v] of Object.entries(from ?? {})) if (typeof v === "number" && (!keys || keys.includes(k))) into[k] = (into[k] ?? 0) + v;
  };
  for (const s of all) {
    add(out.cache, s.cache, ["hits", "misses", "loads", "loadErrors", "joins", "backfills", "errors", "droppedWrites"]);
    for (const level of s.levels) {
      out[level.name] ??= { hits: 0 };
      out[level.name].hits += level.hits;
      add(out[level.name], level.tier, TIER_COUNTERS);
    }
    add(out.errorsByTier, s.events.byTier);
  }
  return out;
}

function printTable(r) {
  const rows = [
    ["reads", r.reads.total],
    ["  ok", r.reads.ok],
    ["  failed (in a flaky-upstream window)", r.failed.inFlakyWindow],
    ["  failed (outside)", r.failed.outsideFlakyWindow],
    ["  wrong bytes (must be 0)", `${r.wrong.total}${r.wrong.total ? ` ${JSON.stringify(r.wrong.byReason)}` : ""}`],
    ["  stale, any class", r.reads.stale],
    ...CLASSES.map((k) => [
      `  stale: ${k}${PROMISED.includes(k) ? " (must be 0)" : " (not promised)"}`,
      r.stale[k].reads === 0
        ? "0"
        : `${r.stale[k].reads} (worst ${r.stale[k].maxLagMs} ms past the deadline; by fault ${JSON.stringify(r.stale[k].byFault)})`,
    ]),
    [
      "  older than a change, within its bound",
      CLASSES.map((k) => `${k} ${r.withinBound[k].reads} (≤${r.withinBound[k].maxAgeMs} ms)`).join(", "),
    ],
    ["  final sweep: reads / stale / wrong", `${r.sweep.reads} / ${r.sweep.stale} / ${r.sweep.wrong}`],
    ["read latency p50 / p99 / max", `${r.latencyMs.reads.p50} / ${r.latencyMs.reads.p99} / ${r.latencyMs.reads.max} ms`],
    ["changes ok / failed", `${r.changes.acknowledged} / ${r.changes.failed}  ${JSON.stringify(r.changes.byVia)}`],
    ["faults", `${r.faults.count} ${JSON.stringify(r.faults.byKind)}`],
    ["process incarnations / unexpected exits", `${r.processes.incarnations} / ${r.processes.unexpectedExits.length}`],
    ["verdict", r.verdict],
  ];
  console.table(Object.fromEntries(rows.map(([k, v]) => [k, { value: String(v) }])));
  for (const k of CLASSES) {
    for (const { timeline, ...e } of r.stale[k].examples) {
      console.error(`  stale ${k}: ${JSON.stringify(e)}`);
      if (timeline && args.timelines) console.error(`    ${timeline.join("\n    ")}`);
    }
  }
  for (const e of r.wrong.examples) console.error(`  wrong: ${JSON.stringify(e)}`);
  for (const e of r.failed.outsideExamples) console.error(`  failed outside a flaky window: ${JSON.stringify(e)}`);
}
