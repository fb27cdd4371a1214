import type { MissRatioCurve } from "./miss-ratio.js";
import type { MetricsReport } from "./report.js";
import type { MetricsSnapshot } from "./snapshot.js";

export interface Recommendation {
  /** A stable identifier: "l1-too-small", "enable-warming", "warming-wastes", "tier-errors", "dropped-writes", "too-large", "absent-ttl". */
  readonly id: string;
  readonly category: "capacity" | "warming" | "reliability" | "configuration";
  readonly priority: "high" | "medium" | "low";
  readonly description: string;
  /** The numbers the recommendation rests on. */
  readonly evidence: Readonly<Record<string, number | string>>;
  readonly expectedEffect: string;
  /** A concrete setting, where there is one. */
  readonly suggestion?: Readonly<Record<string, number | string>>;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const MIN_LOOKUPS = 32;

export function recommend(
  report: Omit<MetricsReport, "recommendations">,
  window: MetricsSnapshot,
  curve: MissRatioCurve,
): Recommendation[] {
  const out: Recommendation[] = [];
  const l1 = window.levels[0];
  const l1Report = report.tiers[0];

  // L1 too small: it evicts keys that are read again soon, and a larger bound would keep them.
  if (
    l1 &&
    l1Report &&
    l1.maxBytes !== undefined &&
    l1.evictions.evict > 0 &&
    window.evictedReReads > 0 &&
    curve.references >= MIN_LOOKUPS
  ) {
    const current = l1Report.hitRate;
    const target = Math.max(current, curve.maxHitRatio - 0.02);
    const payload = curve.bytesFor(target);
    // The tier counts its own per-entry overhead against maxBytes: scale the payload distance by it.
    const perEntry = l1.bytes !== undefined && l1.entries ? l1.bytes / l1.entries : undefined;
    const overhead = perEntry !== undefined && curve.meanSize ? Math.max(1, perEntry / curve.meanSize) : 1;
    if (payload !== undefined) {
      const suggested = Math.ceil((payload * overhead * 1.05) / 1024) * 1024;
      const predicted = curve.hitRatioAt(payload);
      if (suggested > l1.maxBytes && predicted >= current + 0.05) {
        out.push({
          id: "l1-too-small",
          category: "capacity",
          priority: predicted - current >= 0.2 ? "high" : "medium",
          description: `The first tier ("${l1.tier}") evicts values that are read again soon: raise its maxBytes.`,
          evidence: {
            maxBytes: l1.maxBytes,
            evictions: l1.evictions.evict,
            evictedReReads: window.evictedReReads,
            hitRate: round(current),
            predictedHitRate: round(predicted),
            sampledReferences: curve.references,
            samplingRate: round(curve.rate),
          },
          expectedEffect: `first-tier hit rate from ${pct(current)} to about ${pct(predicted)} (miss-ratio estimate of this workload)`,
          suggestion: { tier: l1.tier, level: 0, maxBytes: suggested, predictedHitRate: round(predicted) },
        });
      }
    }
  }

  // Warming: reads move to grid neighbours, and nothing prefetches.
  if (window.warming === undefined) {
    for (const array of report.arrays) {
      if (array.reads < MIN_LOOKUPS || array.localityScore === undefined || array.localityScore < 0.5) continue;
      out.push({
        id: "enable-warming",
        category: "warming",
        priority: array.hitRate < 0.5 ? "high" : "medium",
        description: `Reads of ${array.path} move to neighbouring chunks: turn on neighbour warming (warming({ strategies: [neighbor()] })).`,
        evidence: { array: array.path, reads: array.reads, localityScore: round(array.localityScore), hitRate: round(array.hitRate) },
        expectedEffect: `up to ${pct(array.localityScore)} of this array's reads could find their chunk already loaded`,
      });
    }
  } else if (window.warming.prefetched >= 20) {
    const w = window.warming;
    const wasteRate = w.wasted / w.prefetched;
    if (wasteRate > 0.5) {
      out.push({
        id: "warming-wastes",
        category: "warming",
        priority: "medium",
        description: "Most prefetched values are evicted before anyone reads them: lower the warming lookahead (or its distance).",
        evidence: { prefetched: w.prefetched, used: w.used, wasted: w.wasted, late: w.late, wasteRate: round(wasteRate) },
        expectedEffect: `fewer upstream requests (up to ${w.wasted} here) and less first-tier churn, with the same hits`,
      });
    }
  }

  for (const level of report.tiers) {
    const lookups = level.hits + level.misses;
    if (level.errors === 0 || level.errors < 0.01 * Math.max(lookups, 1)) continue;
    out.push({
      id: "tier-errors",
      category: "reliability",
      priority: "high",
      description: `Tier "${level.tier}" (level ${level.level}) is failing; its reads fall through to the next tier or upstream.`,
      evidence: {
        tier: level.tier,
        level: level.level,
        errors: level.errors,
        lookups,
        errorRate: round(level.errors / Math.max(lookups, 1)),
      },
      expectedEffect: "fixing it restores its hits; until then every failing read costs a slower tier or an upstream request",
    });
  }

  if (window.droppedWrites > 0) {
    out.push({
      id: "dropped-writes",
      category: "configuration",
      priority: "medium",
      description: "Fills of lower tiers were dropped because too many were pending: raise maxPendingWrites or use a faster lower tier.",
      evidence: { droppedWrites: window.droppedWrites, sets: window.sets },
      expectedEffect: `up to ${window.droppedWrites} more values kept in the lower tiers (fewer upstream requests after a restart)`,
    });
  }

  if (window.tooLarge > 0) {
    out.push({
      id: "too-large",
      category: "capacity",
      priority: "low",
      description: "Some values are larger than a tier accepts, so that tier never holds them: raise its bound if they are read often.",
      evidence: { tooLarge: window.tooLarge, sets: window.sets },
      expectedEffect: "those values could be served from the faster tier",
    });
  }

  const absent = window.upstream.absent;
  if (window.absentReloads > 0 && absent >= 10 && window.absentReloads >= 0.1 * absent) {
    out.push({
      id: "absent-ttl",
      category: "configuration",
      priority: "low",
      description: "Keys known to be absent are asked upstream again after their absent entry expires: raise ttl.absent.",
      evidence: { absentLoads: absent, absentReloads: window.absentReloads },
      expectedEffect: `up to ${window.absentReloads} fewer upstream requests for missing keys`,
    });
  }

  const rank = { high: 0, medium: 1, low: 2 } as const;
  return out.sort((a, b) => rank[a.priority] - rank[b.priority]);
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
