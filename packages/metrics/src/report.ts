import type { Collector, TimelinePoint } from "./collector.js";
import { mean, quantile, type HistogramData } from "./histogram.js";
import { recommend, type Recommendation } from "./recommendations.js";
import type { MetricsSnapshot } from "./snapshot.js";

export interface Percentiles {
  readonly p50: number | undefined;
  readonly p90: number | undefined;
  readonly p99: number | undefined;
  readonly mean: number | undefined;
  readonly count: number;
}

export interface TierReport {
  readonly level: number;
  readonly tier: string;
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses) of the lookups that reached this level; 0 without lookups (as levelStats()). */
  readonly hitRate: number;
  /** Lookup latency at this level, µs (hits and misses together), and of hits alone. */
  readonly latencyUs: Percentiles;
  readonly hitLatencyUs: Percentiles;
  readonly entries: number | undefined;
  readonly bytes: number | undefined;
  readonly maxBytes: number | undefined;
  readonly evictions: { readonly evict: number; readonly expire: number };
  readonly errors: number;
}

export interface ArrayReport {
  readonly path: string;
  readonly reads: number;
  readonly hits: number;
  readonly misses: number;
  readonly hitRate: number;
  /** Share of consecutive demand reads that were grid neighbours; undefined before two reads. */
  readonly localityScore: number | undefined;
  readonly hottestChunks: readonly { readonly coords: readonly number[]; readonly reads: number }[];
}

export interface MetricsReport {
  readonly window: { readonly start: number; readonly end: number; readonly ms: number };
  readonly performanceSummary: {
    readonly reads: number;
    readonly hits: number;
    readonly misses: number;
    /** hits / (hits + misses), as `stats()`. */
    readonly averageHitRate: number;
    /** The best hit rate of one timeline interval in the window (intervals with ≥ 10 lookups). */
    readonly peakHitRate: number;
    /** Time spent in lookups and loads per demand read, ms. */
    readonly averageResponseTimeMs: number | undefined;
    /** Demand reads per second over the window. */
    readonly throughputPerSecond: number;
  };
  readonly accessPatterns: {
    readonly mostAccessedKeys: readonly { readonly key: string; readonly reads: number }[];
    readonly temporalHotspots: readonly { readonly at: number; readonly reads: number }[];
    /** Over all known arrays, weighted by their reads; undefined when no array is known or read twice. */
    readonly spatialLocalityScore: number | undefined;
    readonly accessDistribution: { readonly trackedKeys: number; readonly top1PercentShare: number; readonly top10PercentShare: number };
  };
  readonly efficiencyAnalysis: {
    readonly hitRate: number;
    /** Bytes served from cache / (that + bytes loaded upstream). */
    readonly byteHitRate: number;
    readonly firstTierBytesUsed: number | undefined;
    readonly firstTierBytesBound: number | undefined;
    /** Hit ratio an unbounded first tier would reach on this workload (estimated), and the current one. */
    readonly firstTierHitRate: number;
    readonly firstTierMaxHitRate: number | undefined;
    readonly evictedReReads: number;
  };
  readonly tiers: readonly TierReport[];
  readonly arrays: readonly ArrayReport[];
  readonly upstream: {
    readonly loads: number;
    readonly absent: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly bytes: number;
    readonly latencyMs: Percentiles;
  };
  readonly savings: {
    /** Reads answered by a tier that would otherwise have gone upstream. */
    readonly upstreamRequestsAvoided: number;
    readonly bytesServedFromCache: number;
    /** Avoided requests × median upstream latency, minus the time those hits spent in the tiers. */
    readonly timeSavedMs: number | undefined;
  };
  readonly warming:
    | { readonly prefetched: number; readonly used: number; readonly wasted: number; readonly late: number; readonly usedRate: number }
    | undefined;
  readonly recommendations: readonly Recommendation[];
}

export function percentiles(h: HistogramData, scale = 1): Percentiles {
  const s = (v: number | undefined) => (v === undefined ? undefined : v * scale);
  return Object.freeze({ p50: s(quantile(h, 0.5)), p90: s(quantile(h, 0.9)), p99: s(quantile(h, 0.99)), mean: s(mean(h)), count: h.count });
}

function merged(a: HistogramData, b: HistogramData): HistogramData {
  return { counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), count: a.count + b.count, sum: a.sum + b.sum };
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

export function buildReport(window: MetricsSnapshot, collector: Collector): MetricsReport {
  const start = window.windowStart;
  const end = window.takenAt;
  const points = collector.timelinePoints().filter((p) => p.at >= start - 1 && p.at <= end);
  const tiers: TierReport[] = window.levels.map((l) => ({
    level: l.level,
    tier: l.tier,
    hits: l.hits,
    misses: l.misses,
    hitRate: l.hits === 0 ? 0 : l.hits / (l.hits + l.misses),
    latencyUs: percentiles(merged(l.hitLatency, l.missLatency)),
    hitLatencyUs: percentiles(l.hitLatency),
    entries: l.entries,
    bytes: l.bytes,
    maxBytes: l.maxBytes,
    evictions: l.evictions,
    errors: l.errors,
  }));
  const arrays: ArrayReport[] = window.arrays.map((a) => {
    const state = collector.arrays.get(a.path);
    return {
      path: a.path,
      reads: a.reads,
      hits: a.hits,
      misses: a.misses,
      hitRate: ratio(a.hits, a.hits + a.misses),
      localityScore: a.pairs > 0 ? a.neighbourPairs / a.pairs : undefined,
      hottestChunks: state ? hottest(collector.hotKeys(50, state)) : [],
    };
  });
  const pairs = window.arrays.reduce((s, a) => s + a.pairs, 0);
  const neighbourPairs = window.arrays.reduce((s, a) => s + a.neighbourPairs, 0);
  const ms = Math.max(1, end - start);
  const busy = points.reduce((s, p) => s + p.busyMs, 0);
  const hitBytes = window.levels.reduce((s, l) => s + l.hitBytes, 0);
  const upstreamLatency = percentiles(window.upstream.latency, 1 / 1000);
  const hitTimeMs = window.levels.reduce((s, l) => s + l.hitLatency.sum, 0) / 1000;
  const timeSavedMs = upstreamLatency.p50 === undefined ? undefined : Math.max(0, window.hits * upstreamLatency.p50 - hitTimeMs);
  const l1 = window.levels[0];
  const curve = collector.missRatio.curve();
  const warming = window.warming && { ...window.warming, usedRate: ratio(window.warming.used, window.warming.prefetched) };
  const report: Omit<MetricsReport, "recommendations"> = {
    window: { start, end, ms: end - start },
    performanceSummary: {
      reads: window.reads,
      hits: window.hits,
      misses: window.misses,
      averageHitRate: ratio(window.hits, window.hits + window.misses),
      peakHitRate: peak(points),
      averageResponseTimeMs: window.reads > 0 ? busy / window.reads : undefined,
      throughputPerSecond: (window.reads * 1000) / ms,
    },
    accessPatterns: {
      mostAccessedKeys: collector.hotKeys(10).map(({ key, reads }) => ({ key, reads })),
      temporalHotspots: [...points]
        .sort((a, b) => b.reads - a.reads)
        .filter((p) => p.reads > 0)
        .slice(0, 3)
        .map((p) => ({ at: p.at, reads: p.reads })),
      spatialLocalityScore: pairs > 0 ? neighbourPairs / pairs : undefined,
      accessDistribution: distribution(collector.keyReads()),
    },
    efficiencyAnalysis: {
      hitRate: ratio(window.hits, window.hits + window.misses),
      byteHitRate: ratio(hitBytes, hitBytes + window.upstream.bytes),
      firstTierBytesUsed: l1?.bytes,
      firstTierBytesBound: l1?.maxBytes,
      firstTierHitRate: l1 ? ratio(l1.hits, l1.hits + l1.misses) : 0,
      firstTierMaxHitRate: curve.references > 0 ? curve.maxHitRatio : undefined,
      evictedReReads: window.evictedReReads,
    },
    tiers,
    arrays,
    upstream: {
      loads: window.upstream.loads,
      absent: window.upstream.absent,
      errors: window.upstream.errors,
      timeouts: window.upstream.timeouts,
      bytes: window.upstream.bytes,
      latencyMs: upstreamLatency,
    },
    savings: { upstreamRequestsAvoided: window.hits, bytesServedFromCache: hitBytes, timeSavedMs },
    warming,
  };
  return deepFreeze({ ...report, recommendations: recommend(report, window, curve) });
}

/** The most read chunks; the range reads of one shard (several keys) count together. */
function hottest(keys: { reads: number; coords?: readonly number[] }[]): { coords: readonly number[]; reads: number }[] {
  const byCell = new Map<string, { coords: readonly number[]; reads: number }>();
  for (const k of keys) {
    const id = k.coords!.join(",");
    const cell = byCell.get(id);
    if (cell) cell.reads += k.reads;
    else byCell.set(id, { coords: k.coords!, reads: k.reads });
  }
  return [...byCell.values()].sort((a, b) => b.reads - a.reads).slice(0, 5);
}

function peak(points: TimelinePoint[]): number {
  let best = 0;
  for (const p of points) if (p.hits + p.misses >= 10) best = Math.max(best, p.hits / (p.hits + p.misses));
  return best;
}

function distribution(reads: number[]): { trackedKeys: number; top1PercentShare: number; top10PercentShare: number } {
  reads.sort((a, b) => b - a);
  const total = reads.reduce((s, r) => s + r, 0);
  const share = (fraction: number) =>
    ratio(
      reads.slice(0, Math.max(1, Math.ceil(reads.length * fraction))).reduce((s, r) => s + r, 0),
      total,
    );
  return { trackedKeys: reads.length, top1PercentShare: share(0.01), top10PercentShare: share(0.1) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
