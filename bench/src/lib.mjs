// Shared helpers for benchmark scenarios. Every scenario measures its baseline in the same run
// and reports a ratio, because these machines are noisy: absolute numbers mean little.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * ops/s of `op` over about `ms`, `op(counter.i++)` each call. With one call in flight, calls go in
 * batches of 64 between clock reads; with more, `concurrency` loops keep calls in flight.
 */
async function rateFor(op, ms, counter, concurrency) {
  const start = performance.now();
  const end = start + ms;
  let n = 0;
  if (concurrency === 1) {
    while (performance.now() < end) {
      for (let k = 0; k < 64; k++) await op(counter.i++);
      n += 64;
    }
  } else {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await op(counter.i++);
          n++;
        }
      }),
    );
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * Throughput of several ops measured round-robin (one short round of each, repeated), so that
 * load from elsewhere on a noisy machine hits all of them alike. Returns { name: median ops/s }.
 * `concurrency` keeps that many calls of each op in flight (for I/O-bound tiers).
 */
export async function compareOpsPerSec(ops, { rounds = 9, roundMs = 200, warmupMs = 150, concurrency = 1 } = {}) {
  const results = Object.fromEntries(Object.keys(ops).map((name) => [name, []]));
  const counters = Object.fromEntries(Object.keys(ops).map((name) => [name, { i: 0 }]));
  for (const [name, op] of Object.entries(ops)) await rateFor(op, warmupMs, counters[name], concurrency);
  for (let r = 0; r < rounds; r++) {
    for (const [name, op] of Object.entries(ops)) results[name].push(await rateFor(op, roundMs, counters[name], concurrency));
  }
  return Object.fromEntries(Object.entries(results).map(([name, xs]) => [name, median(xs)]));
}

/**
 * Throughput of `op` (sync or async) in ops/s: `rounds` rounds of about `roundMs` each after a
 * warm-up; returns the median round. `op(i)` is called with a running index.
 */
export async function opsPerSec(op, { rounds = 7, roundMs = 300, warmupMs = 200 } = {}) {
  return (await compareOpsPerSec({ op }, { rounds, roundMs, warmupMs })).op;
}

/** Like opsPerSec, but keeps `concurrency` calls in flight (for I/O-bound tiers). */
export async function opsPerSecConcurrent(op, concurrency, { rounds = 7, roundMs = 400, warmupMs = 200 } = {}) {
  return (await compareOpsPerSec({ op }, { rounds, roundMs, warmupMs, concurrency })).op;
}

/** Deterministic pseudo-random bytes (core's test generator, the same bytes the tests use). */
export { testBytes as randomBytes } from "@zarrs-cache/core/test-utils";

/**
 * One result row. `ratio` is always value / baselineValue; `target` says which way is good,
 * e.g. ">= 0.8" for a throughput or "<= 1.05" for a time or a request count.
 */
export function row({ group, scenario, unit, value, baseline, baselineValue, target, notes }) {
  let ratio;
  if (baselineValue !== undefined && baselineValue !== 0) ratio = value / baselineValue;
  let pass;
  if (target && ratio !== undefined) {
    const m = /^(>=|<=)\s*([\d.]+)$/.exec(target);
    if (m) pass = m[1] === ">=" ? ratio >= Number(m[2]) : ratio <= Number(m[2]);
  }
  return {
    group,
    scenario,
    unit,
    value: round(value),
    baseline,
    baselineValue: round(baselineValue),
    ratio: round(ratio, 3),
    target,
    pass,
    notes,
  };
}

function round(x, digits = 1) {
  if (typeof x !== "number") return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * compareOpsPerSec plus an A/A check: `baseline` is measured twice, as two independent entries
 * in the same interleaved rounds. `aaSpread` = |A/A ratio − 1|: ratios closer to 1 than that
 * are noise on this machine. Returns { medians, aaSpread }.
 */
export async function compareWithAA(ops, baseline, options) {
  const twin = `${baseline} (A/A)`;
  const medians = await compareOpsPerSec({ ...ops, [twin]: ops[baseline] }, options);
  return { medians, aaSpread: Math.abs(medians[twin] / medians[baseline] - 1) };
}

/**
 * Median time (ms) of each async `fns[name]()` over `rounds` interleaved rounds, with the
 * `baseline` run twice per round for an A/A check. Returns { medians, aaSpread }.
 */
export async function compareTimesWithAA(fns, baseline, { rounds = 7, warmup = 1 } = {}) {
  const twin = `${baseline} (A/A)`;
  const all = { ...fns, [twin]: fns[baseline] };
  const times = Object.fromEntries(Object.keys(all).map((name) => [name, []]));
  for (let r = 0; r < warmup; r++) for (const fn of Object.values(all)) await fn();
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(all)) {
      const t = performance.now();
      await fn();
      times[name].push(performance.now() - t);
    }
  }
  const medians = Object.fromEntries(Object.entries(times).map(([name, xs]) => [name, median(xs)]));
  return { medians, aaSpread: Math.abs(medians[twin] / medians[baseline] - 1) };
}

/** "A/A spread ±x%" for a row's notes. */
export const aaNote = (spread) => `A/A spread ±${(spread * 100).toFixed(1)}%`;
