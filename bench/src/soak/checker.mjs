// The history checker. Input: every process incarnation's records (times already on the
// controller's clock), the upstream's log of applied versions, the fault windows. Output: counts
// of reads, wrong bytes, stale reads per freshness class, failed reads and latencies.
//
// A change is acknowledged when write()/set()/invalidate() resolved. A read is stale in a class
// when it STARTED after the change's deadline in that class and returned an older version:
//   same-process       the writer's own later reads: deadline = the change's end (one clock, exact)
//   cross-process      other processes, no fault near: end + busBoundMs
//   after-partition    a Redis fault (pause, kill, the writer's or the reader's node cut off) overlapped
//                      the change or its bus delivery (a fault counts until healed + healBoundMs):
//                      deadline max(end + busBoundMs, healed + healBoundMs); also a change during
//                      which a Redis call of the writer failed without an injected fault (a timeout
//                      on a loaded machine): deadline end + healBoundMs, fault "redis-errors"
//   after-node-restart no Redis fault, but every process of the reader's node was down while the
//                      change was made: max(end + busBoundMs, first process back + healBoundMs)
//   writer-crashed     an after-partition change whose writer was killed before its deadline
//                      (it may have died holding the only record of what to repair): reported,
//                      not promised
// Same-process reads are checked whatever the faults; each stale read also names the faults near
// its change ("none" when there were none).
export const PROMISED = ["same-process", "cross-process", "after-partition", "after-node-restart"];
export const CLASSES = [...PROMISED, "writer-crashed"];

function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const overlaps = (a0, a1, b0, b1) => a0 <= b1 && b0 <= a1;

export function check({ incarnations, applied, faults, machineDown, t0, busBoundMs, healBoundMs, maxExamples = 8 }) {
  const rel = (t) => Math.round(t - t0);
  // Redis faults as seen by node m: [start, healed + healBound] of global faults and m's partitions.
  const redisFaults = faults.filter((f) => ["redis-pause", "redis-kill", "partition"].includes(f.kind));
  const faultsOf = (machine) => redisFaults.filter((f) => f.kind !== "partition" || f.machine === machine);
  const flakyWindows = faults.filter((f) => f.kind === "flaky-upstream");

  const changes = new Map(); // objectId → acknowledged changes
  const reads = [];
  const changeStats = { total: 0, acknowledged: 0, failed: 0, byVia: {}, failures: {}, latencies: [] };
  for (const inc of incarnations) {
    for (const r of inc.records) {
      if (r.o === "w") {
        changeStats.total++;
        changeStats.byVia[r.via] = (changeStats.byVia[r.via] ?? 0) + 1;
        if (!r.ok) {
          changeStats.failed++;
          const why = normalise(r.err);
          changeStats.failures[why] = (changeStats.failures[why] ?? 0) + 1;
          continue;
        }
        changeStats.acknowledged++;
        changeStats.latencies.push(r.e - r.s);
        const c = { ...r, inc, sC: r.s + inc.offset, eC: r.e + inc.offset };
        if (!changes.has(r.id)) changes.set(r.id, []);
        changes.get(r.id).push(c);
      } else if (r.o === "r") reads.push({ ...r, inc, sC: r.s + inc.offset, eC: r.e + inc.offset });
    }
  }
  for (const list of changes.values()) list.sort((a, b) => b.v - a.v);
  // Times (controller clock) at which each process saw a Redis tier call fail.
  for (const inc of incarnations) {
    inc.redisErrors = inc.records
      .filter((r) => r.o === "x")
      .map((r) => r.t + inc.offset)
      .sort((a, b) => a - b);
  }
  const redisErrorsDuring = (inc, a, b) => {
    const times = inc.redisErrors;
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] < a) lo = mid + 1;
      else hi = mid;
    }
    return lo < times.length && times[lo] <= b;
  };

  /**
   * The class of change c for a read by incarnation `reader`, its deadline (controller clock) and
   * the faults that explain it. A Redis fault wins over a node restart: a restarted node that
   * reads an old copy Redis kept through a partition is the partition's doing.
   */
  function classify(c, reader) {
    const window = [c.sC, c.eC + busBoundMs];
    const hit = [...new Set([...faultsOf(c.inc.machine), ...faultsOf(reader.machine)])].filter((f) =>
      overlaps(f.start, (f.healed ?? Infinity) + healBoundMs, ...window),
    );
    const because = hit.map((f) => f.kind);
    // A Redis call of the writer failed during the change (a timeout on a loaded machine, say):
    // its shared update may be lost, as in a partition that healed when the change ended.
    const writerErrors = redisErrorsDuring(c.inc, c.sC, c.eC + 5);
    if (writerErrors) because.push("redis-errors");
    if (c.inc === reader) return { cls: "same-process", deadline: c.eC, because };
    const down = machineDown.filter((d) => d.machine === reader.machine && overlaps(d.start, d.end ?? Infinity, ...window));
    const deadline = Math.max(
      c.eC + busBoundMs,
      ...hit.map((f) => (f.healed ?? Infinity) + healBoundMs),
      ...down.map((d) => (d.end ?? Infinity) + healBoundMs),
      writerErrors ? c.eC + healBoundMs : 0,
    );
    if (hit.length > 0 || writerErrors) {
      const crashed = c.inc.killedAt !== undefined && c.inc.killedAt < deadline;
      return { cls: crashed ? "writer-crashed" : "after-partition", deadline, because };
    }
    if (down.length > 0) return { cls: "after-node-restart", deadline, because: ["node-kill"] };
    return { cls: "cross-process", deadline, because };
  }

  const stale = Object.fromEntries(CLASSES.map((k) => [k, { reads: 0, maxLagMs: 0, byFault: {}, examples: [] }]));
  const withinBound = Object.fromEntries(CLASSES.map((k) => [k, { reads: 0, maxAgeMs: 0 }]));
  const wrong = { total: 0, byReason: {}, examples: [] };
  const failed = { total: 0, inFlakyWindow: 0, outsideFlakyWindow: 0, reasons: {}, outsideExamples: [] };
  const latency = { all: [], byVia: {} };
  let ok = 0;
  let staleTotal = 0;
  let promisedStale = 0;
  const sweep = { reads: 0, stale: 0, wrong: 0, failed: 0 };

  for (const r of reads) {
    if (r.sw) sweep.reads++;
    if (r.err !== undefined) {
      failed.total++;
      if (r.sw) sweep.failed++;
      const flaky = flakyWindows.some((f) => overlaps(f.start, f.healed ?? Infinity, r.sC, r.eC));
      if (flaky) failed.inFlakyWindow++;
      else {
        failed.outsideFlakyWindow++;
        if (failed.outsideExamples.length < maxExamples) {
          failed.outsideExamples.push({ id: r.id, via: r.via, inc: r.inc.name, at: rel(r.sC), err: r.err });
        }
      }
      const why = normalise(r.err);
      failed.reasons[why] = (failed.reasons[why] ?? 0) + 1;
      continue;
    }
    // Wrong bytes: failed the byte check in the worker, or a version the store never had by then.
    let bad = r.bad;
    let why = r.why;
    if (bad === undefined) {
      const log = applied.get(r.id) ?? [];
      const entry = log.find((a) => a.version === r.v);
      if (entry === undefined || entry.at > r.eC + r.inc.tolerance) {
        bad = "phantom";
        why = `version ${r.v} ${entry ? `applied only at ${rel(entry.at)} ms` : "never stored"}`;
      }
    }
    if (bad !== undefined) {
      wrong.total++;
      if (r.sw) sweep.wrong++;
      wrong.byReason[bad] = (wrong.byReason[bad] ?? 0) + 1;
      if (wrong.examples.length < maxExamples) wrong.examples.push({ id: r.id, via: r.via, inc: r.inc.name, at: rel(r.sC), bad, why });
      continue;
    }
    ok++;
    const ms = r.e - r.s;
    latency.all.push(ms);
    (latency.byVia[r.via] ??= []).push(ms);

    let staleHere = false;
    let promisedHere = false;
    const seen = new Set();
    for (const c of changes.get(r.id) ?? []) {
      if (c.v <= r.v) break;
      const sameProcess = c.inc === r.inc;
      // Same process: one clock, exact. Across processes: the clock offset's uncertainty is given away.
      if (sameProcess ? c.e >= r.s : c.eC >= r.sC - r.inc.tolerance - c.inc.tolerance) continue;
      const { cls, deadline, because } = classify(c, r.inc);
      const startedAfter = sameProcess ? r.s > c.e : r.sC - r.inc.tolerance - c.inc.tolerance > deadline;
      if (!startedAfter) {
        const w = withinBound[cls];
        if (!seen.has(`within:${cls}`)) w.reads++;
        seen.add(`within:${cls}`);
        w.maxAgeMs = Math.max(w.maxAgeMs, Math.round(r.sC - c.eC));
        continue;
      }
      if (seen.has(cls)) continue;
      seen.add(cls);
      staleHere = true;
      if (PROMISED.includes(cls)) promisedHere = true;
      const s = stale[cls];
      s.reads++;
      const fault = because.length ? [...new Set(because)].sort().join("+") : "none";
      s.byFault[fault] = (s.byFault[fault] ?? 0) + 1;
      const lag = Math.round(r.sC - deadline);
      s.maxLagMs = Math.max(s.maxLagMs, lag);
      // Up to two examples for each fault to blame; the first of each with the object's timeline.
      const sameFault = s.examples.filter((x) => x.fault === fault).length;
      if (sameFault < 2 && s.examples.length < maxExamples) {
        s.examples.push({
          id: r.id,
          via: r.via,
          reader: r.inc.name,
          readAt: rel(r.sC),
          got: r.v,
          change: { v: c.v, via: c.via, writer: c.inc.name, doneAt: rel(c.eC) },
          deadline: rel(deadline),
          lagMs: lag,
          fault,
          sweep: Boolean(r.sw),
          timeline: sameFault === 0 ? timeline(r.id, c.sC - 1500, r.sC, [c.inc, r.inc], [c.sC - 200, c.eC + 200]) : undefined,
        });
      }
    }
    if (staleHere) staleTotal++;
    if (promisedHere) {
      promisedStale++;
      if (r.sw) sweep.stale++;
    }
  }

  /** Operations on one object between two times, and Redis call failures of `involved` processes near the change. */
  function timeline(id, from, to, involved, [near0, near1]) {
    const lines = [];
    for (const inc of incarnations) {
      for (const x of inc.records) {
        if (x.o === "x" && involved.includes(inc)) {
          const t = x.t + inc.offset;
          if (t >= near0 && t <= near1) lines.push([t, `${rel(t)} ms ${inc.name} redis ${x.op} failed`]);
          continue;
        }
        if (x.id !== id || x.o === "start") continue;
        const s = x.s + inc.offset;
        const e = x.e + inc.offset;
        if (e < from || s > to) continue;
        const outcome = x.err ? `FAILED ${x.err}` : (x.bad ?? `v${x.v}`);
        const what = x.o === "w" ? `${x.via} v${x.v}${x.ok ? "" : ` FAILED ${x.err}`}` : `read ${x.via} ${outcome}`;
        lines.push([s, `${rel(s)}..${rel(e)} ms ${inc.name} ${what}${x.sw ? " (sweep)" : ""}`]);
      }
    }
    lines.sort((a, b) => a[0] - b[0]);
    return lines.slice(-40).map(([, line]) => line);
  }

  const summarize = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const round = (x) => (x === undefined ? undefined : Math.round(x * 100) / 100);
    return { n: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1)) };
  };
  return {
    reads: { total: reads.length, ok, failed: failed.total, wrong: wrong.total, stale: staleTotal, promisedStale },
    stale,
    withinBound,
    wrong,
    failed,
    sweep,
    latencyMs: {
      reads: summarize(latency.all),
      byVia: Object.fromEntries(Object.entries(latency.byVia).map(([k, v]) => [k, summarize(v)])),
    },
    changes: { ...changeStats, latencies: undefined, latencyMs: summarize(changeStats.latencies) },
  };
}

/** An error message without the numbers that make every one unique. */
function normalise(message = "") {
  return message.replace(/\d+/g, "N").slice(0, 100);
}
