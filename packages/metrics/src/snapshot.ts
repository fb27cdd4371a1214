import { ZarrsCacheError } from "@zarrs-cache/core";
import { subtractHistogram, type HistogramData } from "./histogram.js";

/** Counters of one level (tier) of the cache. */
export interface LevelSnapshot {
  readonly level: number;
  readonly tier: string;
  readonly hits: number;
  readonly misses: number;
  readonly absentHits: number;
  /** Bytes of the values found at this level. */
  readonly hitBytes: number;
  /** Lookup durations at this level (µs): hits and misses. */
  readonly hitLatency: HistogramData;
  readonly missLatency: HistogramData;
  readonly evictions: { readonly evict: number; readonly expire: number };
  readonly errors: number;
  /** Gauges read from the tier when the snapshot was taken (undefined when the tier cannot tell). */
  readonly entries: number | undefined;
  readonly bytes: number | undefined;
  readonly maxBytes: number | undefined;
}

export interface ArraySnapshot {
  readonly path: string;
  /** Demand lookups of the array's chunk keys at the first tier. */
  readonly reads: number;
  readonly hits: number;
  readonly misses: number;
  /** Consecutive demand reads of this array, and those that were grid neighbours. */
  readonly pairs: number;
  readonly neighbourPairs: number;
}

export interface UpstreamSnapshot {
  readonly loads: number;
  readonly absent: number;
  readonly bytes: number;
  /** Loads that failed (from the cache's own counters). */
  readonly errors: number;
  readonly timeouts: number;
  readonly aborts: number;
  /** Load durations (µs). */
  readonly latency: HistogramData;
}

export interface WarmingSnapshot {
  /** Keys a prefetch brought in. */
  readonly prefetched: number;
  /** Prefetched keys a demand read then found in the first tier. */
  readonly used: number;
  /** Prefetched keys evicted (or forgotten) before any demand read. */
  readonly wasted: number;
  /** Demand reads that arrived while the key's prefetch was still loading. */
  readonly late: number;
}

/** An immutable view of every counter at one moment. `since(previous)` gives the window between two. */
export interface MetricsSnapshot {
  /** `Date.now()` when taken, and when the metrics started. */
  readonly takenAt: number;
  readonly startedAt: number;
  /** Where the counters start: `startedAt`, or the previous snapshot's `takenAt` for a `since()` window. */
  readonly windowStart: number;
  /** Demand reads: lookups at the first tier that were not prefetches. */
  readonly reads: number;
  readonly prefetchLookups: number;
  /** As `stats()`: hits at any level, misses that reached the loader. */
  readonly hits: number;
  readonly misses: number;
  readonly absentHits: number;
  readonly sets: number;
  readonly setBytes: number;
  readonly deletes: number;
  readonly invalidations: number;
  readonly backfills: number;
  readonly joins: number;
  readonly errors: number;
  readonly droppedWrites: number;
  readonly tooLarge: number;
  readonly pendingWrites: number;
  /** Demand misses at the first tier of keys it evicted a little earlier. */
  readonly evictedReReads: number;
  /** Upstream loads of keys that were already loaded as absent before (their absent entry expired). */
  readonly absentReloads: number;
  /** Exceptions inside the metrics themselves (never passed on to a read). */
  readonly internalErrors: number;
  readonly levels: readonly LevelSnapshot[];
  readonly upstream: UpstreamSnapshot;
  readonly arrays: readonly ArraySnapshot[];
  /** Present once a prefetch was seen (events with `origin: "prefetch"`). */
  readonly warming: WarmingSnapshot | undefined;
}

const COUNTERS = [
  "reads",
  "prefetchLookups",
  "hits",
  "misses",
  "absentHits",
  "sets",
  "setBytes",
  "deletes",
  "invalidations",
  "backfills",
  "joins",
  "errors",
  "droppedWrites",
  "tooLarge",
  "evictedReReads",
  "absentReloads",
  "internalErrors",
] as const;

/** The counters between `previous` and `current` (gauges such as entries and bytes are `current`'s). */
export function since(current: MetricsSnapshot, previous: MetricsSnapshot): MetricsSnapshot {
  for (const [name, s] of [
    ["current", current],
    ["previous", previous],
  ] as const) {
    if (typeof s !== "object" || s === null || typeof s.takenAt !== "number" || !Array.isArray(s.levels)) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `since(previous): ${name} must be a snapshot from snapshot(), got ${String(s)}`);
    }
  }
  if (previous.startedAt !== current.startedAt) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", "since(previous): previous is a snapshot of another metrics instance");
  }
  if (previous.takenAt > current.takenAt) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", "since(previous): previous was taken after this snapshot");
  }
  const out: Record<string, unknown> = { ...current };
  for (const name of COUNTERS) out[name] = current[name] - previous[name];
  out.startedAt = current.startedAt;
  out.windowStart = previous.takenAt;
  out.levels = Object.freeze(
    current.levels.map((l) => {
      const p = previous.levels.find((x) => x.level === l.level);
      if (!p) return l;
      return Object.freeze({
        ...l,
        hits: l.hits - p.hits,
        misses: l.misses - p.misses,
        absentHits: l.absentHits - p.absentHits,
        hitBytes: l.hitBytes - p.hitBytes,
        hitLatency: subtractHistogram(l.hitLatency, p.hitLatency),
        missLatency: subtractHistogram(l.missLatency, p.missLatency),
        evictions: Object.freeze({ evict: l.evictions.evict - p.evictions.evict, expire: l.evictions.expire - p.evictions.expire }),
        errors: l.errors - p.errors,
      });
    }),
  );
  const u = current.upstream;
  const pu = previous.upstream;
  out.upstream = Object.freeze({
    loads: u.loads - pu.loads,
    absent: u.absent - pu.absent,
    bytes: u.bytes - pu.bytes,
    errors: u.errors - pu.errors,
    timeouts: u.timeouts - pu.timeouts,
    aborts: u.aborts - pu.aborts,
    latency: subtractHistogram(u.latency, pu.latency),
  });
  out.arrays = Object.freeze(
    current.arrays.map((a) => {
      const p = previous.arrays.find((x) => x.path === a.path);
      if (!p) return a;
      return Object.freeze({
        path: a.path,
        reads: a.reads - p.reads,
        hits: a.hits - p.hits,
        misses: a.misses - p.misses,
        pairs: a.pairs - p.pairs,
        neighbourPairs: a.neighbourPairs - p.neighbourPairs,
      });
    }),
  );
  if (current.warming && previous.warming) {
    const w = current.warming;
    const pw = previous.warming;
    out.warming = Object.freeze({
      prefetched: w.prefetched - pw.prefetched,
      used: w.used - pw.used,
      wasted: w.wasted - pw.wasted,
      late: w.late - pw.late,
    });
  }
  return Object.freeze(out) as unknown as MetricsSnapshot;
}
