import {
  ArrayLocator,
  parseCacheKey,
  ZarrsCacheError,
  type CacheEvents,
  type HitBatch,
  type LevelStats,
  type TierStats,
  type ZarrArray,
} from "@zarrs-cache/core";
import { GridHeatmap } from "./heatmap.js";
import { emptyHistogram, LatencyHistogram } from "./histogram.js";
import { fnv1a, MissRatioEstimator } from "./miss-ratio.js";
import type { ResolvedOptions } from "./options.js";
import type { ArraySnapshot, LevelSnapshot, MetricsSnapshot, WarmingSnapshot } from "./snapshot.js";

/** Where the collector reads the cache's own counters. */
export interface StatsSource {
  stats(): TierStats;
  levelStats(): LevelStats[];
}

class LevelState {
  hits = 0;
  misses = 0;
  absentHits = 0;
  hitBytes = 0;
  readonly hitLatency = new LatencyHistogram();
  readonly missLatency = new LatencyHistogram();
  evict = 0;
  expire = 0;
  errors = 0;
  constructor(readonly tier: string) {}
}

export class ArrayState {
  reads = 0;
  hits = 0;
  misses = 0;
  pairs = 0;
  neighbourPairs = 0;
  previous: readonly number[] | undefined;
  readonly heatmap: GridHeatmap;
  constructor(readonly array: ZarrArray) {
    this.heatmap = new GridHeatmap(array);
  }
}

/** What the collector remembers of one key (a bounded number of keys). */
interface KeyInfo {
  reads: number;
  hash: number;
  array: ArrayState | undefined;
  coords: readonly number[] | undefined;
  cell: number;
}

/** One timeline interval. */
export interface TimelinePoint {
  readonly at: number;
  readonly reads: number;
  readonly hits: number;
  readonly misses: number;
  readonly loads: number;
  /** Time spent in lookups and loads, ms (for the average response time). */
  readonly busyMs: number;
}

const WARM_PENDING = 0;
const WARM_READY = 1;
/** Recently evicted keys remembered (to tell "evicted, then read again"). */
const RECENT_EVICTIONS = 2048;
const ABSENT_KEYS = 2048;
/** Hits of one batch analysed in full, the latest ones (see onHits). */
const ANALYSED = 64;
const SAMPLE_EVERY = 8;

/**
 * Turns cache events into counters. Every handler is O(1) amortised and touches bounded state:
 * at most `maxTrackedKeys` keys, `missRatioSamples` sampled keys, and fixed-size rings.
 */
export class Collector {
  readonly startedAt = Date.now();
  private readonly levels: LevelState[] = [];
  readonly arrays = new Map<string, ArrayState>();
  private readonly locator = new ArrayLocator();
  private readonly keys = new Map<string, KeyInfo>();
  readonly missRatio: MissRatioEstimator;
  /**
   * The miss-ratio estimate starts with the first tier's first eviction: until then every
   * re-read hits anyway, and its cost stays off the hit path of a cache that is big enough.
   */
  private missRatioOn = false;
  /** Delivers hits the cache buffered (set by the plugin; called before every snapshot). */
  flushHits: () => void = () => {};
  private readonly warm = new Map<string, number>();
  private readonly recentlyEvicted = new Map<string, true>();
  private readonly absentKeys = new Map<string, true>();
  private counts = {
    ...{ reads: 0, prefetchLookups: 0, hits: 0, misses: 0, absentHits: 0, sets: 0, setBytes: 0, deletes: 0, invalidations: 0 },
    ...{ backfills: 0, errors: 0, evictedReReads: 0, absentReloads: 0, internalErrors: 0 },
  };
  private readonly upstream = { loads: 0, absent: 0, bytes: 0, latency: new LatencyHistogram() };
  private warming: { prefetched: number; used: number; wasted: number; late: number } | undefined;
  /** The open timeline interval. */
  private current = { reads: 0, hits: 0, misses: 0, loads: 0, busyMs: 0 };
  private readonly timeline: TimelinePoint[] = [];
  private intervalStart = Date.now();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly source: StatsSource,
  ) {
    this.missRatio = new MissRatioEstimator(options.missRatioSamples);
    for (const array of options.arrays) this.addArray(array);
  }

  addArray(array: ZarrArray): void {
    if (!this.arrays.has(array.path) && this.arrays.size >= this.options.maxArrays) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `metrics.addArray: already tracking maxArrays (${this.options.maxArrays}) arrays`);
    }
    this.locator.add(array);
    this.arrays.set(array.path, new ArrayState(array));
    // Keys placed before this array was known are placed afresh.
    this.keys.clear();
  }

  // ─── events ──────────────────────────────────────────────────────────────────

  /**
   * Hits in batches (`on("hits")`), each as one `hit` event. Counters, per-tier numbers and latencies
   * take every hit. A batch longer than ANALYSED (a hot loop of memory hits) has its per-key
   * analytics sampled: its last ANALYSED hits in full, one in SAMPLE_EVERY before them counted
   * SAMPLE_EVERY times, and no locality pair across a gap — unless the miss-ratio estimate or
   * warming accounting is running, which need every read.
   */
  readonly onHits = (batch: HitBatch): void => {
    const { keys, levels, bytes, ms, prefetch } = batch;
    const n = batch.length;
    const sampledBefore = this.missRatioOn || this.warm.size > 0 ? 0 : n - ANALYSED;
    for (let i = 0; i < n; i++) {
      const weight = i >= sampledBefore ? 1 : i % SAMPLE_EVERY === 0 ? SAMPLE_EVERY : 0;
      this.hit(keys[i]!, levels[i]!, bytes[i]!, ms[i]!, prefetch[i] === 1, weight);
    }
  };

  private hit(key: string, levelIndex: number, bytes: number, ms: number, prefetch: boolean, weight: number): void {
    const level = this.level(levelIndex);
    level.hits++;
    if (bytes === 0) {
      level.absentHits++;
      this.counts.absentHits++;
    }
    level.hitBytes += bytes;
    // NaN marks an untimed hit (hits are timed 1 in 16 at the first level).
    if (!Number.isNaN(ms)) {
      level.hitLatency.record(ms * 1000);
      this.current.busyMs += ms;
    }
    this.counts.hits++;
    if (!prefetch) this.current.hits++;
    if (levelIndex === 0) this.countRead(prefetch);
    if (weight === 0) return;
    const info = this.info(key);
    if (levelIndex === 0) this.firstTierLookup(key, info, prefetch, true, bytes, weight);
    else if (bytes > 0 && this.missRatioOn) this.missRatio.sized(key, bytes);
    if (prefetch) {
      if (levelIndex > 0) this.prefetched(key);
      return;
    }
    const array = info.array;
    if (array !== undefined) {
      array.hits += weight;
      array.heatmap.hits[info.cell]! += weight;
    }
  }

  readonly onLevelMiss = (e: CacheEvents["levelMiss"]): void => {
    const level = this.level(e.level, e.tier);
    level.misses++;
    if (e.ms !== undefined) {
      level.missLatency.record(e.ms * 1000);
      this.current.busyMs += e.ms;
    }
    if (e.level !== 0) return;
    const prefetch = isPrefetch(e);
    this.countRead(prefetch);
    this.firstTierLookup(e.key, this.info(e.key), prefetch, false, undefined, 1);
    if (prefetch) {
      if (this.warming === undefined) this.warming = { prefetched: 0, used: 0, wasted: 0, late: 0 };
      if (!this.warm.has(e.key)) this.remember(this.warm, e.key, WARM_PENDING, this.options.maxTrackedKeys);
    } else if (this.recentlyEvicted.delete(e.key)) {
      this.counts.evictedReReads++;
    }
  };

  readonly onMiss = (e: CacheEvents["miss"]): void => {
    this.counts.misses++;
    if (isPrefetch(e)) return;
    this.current.misses++;
    const array = this.info(e.key).array;
    if (array !== undefined) array.misses++;
  };

  readonly onLoad = (e: CacheEvents["load"]): void => {
    this.upstream.loads++;
    this.upstream.bytes += e.bytes;
    this.upstream.latency.record(e.ms * 1000);
    this.current.loads++;
    this.current.busyMs += e.ms;
    if (e.absent) {
      this.upstream.absent++;
      if (this.absentKeys.has(e.key)) this.counts.absentReloads++;
      else this.remember(this.absentKeys, e.key, true, ABSENT_KEYS);
    } else if (this.missRatioOn) {
      this.missRatio.sized(e.key, e.bytes);
    }
    if (isPrefetch(e)) this.prefetched(e.key);
  };

  readonly onSet = (e: CacheEvents["set"]): void => {
    this.counts.sets++;
    this.counts.setBytes += e.bytes;
  };

  readonly onDelete = (): void => {
    this.counts.deletes++;
  };

  readonly onInvalidate = (): void => {
    this.counts.invalidations++;
  };

  readonly onBackfill = (): void => {
    this.counts.backfills++;
  };

  readonly onEvict = (e: CacheEvents["evict"]): void => {
    const level = this.level(e.level, e.tier);
    if (e.reason === "expire") level.expire++;
    else level.evict++;
    if (e.level !== 0) return;
    if (e.reason === "evict") {
      this.missRatioOn = true;
      this.remember(this.recentlyEvicted, e.key, true, RECENT_EVICTIONS);
    }
    if (this.warm.size > 0) {
      const state = this.warm.get(e.key);
      if (state === WARM_READY) {
        this.warm.delete(e.key);
        this.warming!.wasted++;
      }
    }
  };

  readonly onError = (e: CacheEvents["error"]): void => {
    this.counts.errors++;
    if (e.tier === undefined) return;
    const level = this.levels.findIndex((l) => l?.tier === e.tier);
    if (level !== -1) this.levels[level]!.errors++;
  };

  /** Counts an exception of the metrics themselves. */
  internalError(): void {
    this.counts.internalErrors++;
  }

  /** One lookup at the first tier: a demand read, or a prefetch's. */
  private countRead(prefetch: boolean): void {
    if (prefetch) {
      this.counts.prefetchLookups++;
      return;
    }
    this.counts.reads++;
    this.current.reads++;
  }

  /** A first-tier lookup's analytics; `weight` > 1 stands for sampled reads (see onHits). */
  private firstTierLookup(key: string, info: KeyInfo, prefetch: boolean, hit: boolean, bytes: number | undefined, weight: number): void {
    if (prefetch) return;
    info.reads += weight;
    if (this.missRatioOn) this.missRatio.access(key, info.hash, bytes !== undefined && bytes > 0 ? bytes : undefined);
    if (this.warm.size > 0) {
      const state = this.warm.get(key);
      if (state !== undefined) {
        this.warm.delete(key);
        // A prefetched value that is gone when read was wasted; a read during the prefetch was late.
        if (state === WARM_READY) hit ? this.warming!.used++ : this.warming!.wasted++;
        else if (!hit) this.warming!.late++;
      }
    }
    const array = info.array;
    if (array === undefined) return;
    array.reads += weight;
    array.heatmap.reads[info.cell]! += weight;
    if (weight !== 1) {
      array.previous = undefined; // the reads in between were not looked at: no pair across them
      return;
    }
    const coords = info.coords!;
    const previous = array.previous;
    if (previous !== undefined) {
      array.pairs++;
      if (isNeighbour(previous, coords)) array.neighbourPairs++;
    }
    array.previous = coords;
  }

  private prefetched(key: string): void {
    if (this.warming === undefined) this.warming = { prefetched: 0, used: 0, wasted: 0, late: 0 };
    this.warming.prefetched++;
    this.warm.delete(key);
    this.remember(this.warm, key, WARM_READY, this.options.maxTrackedKeys);
  }

  /** Inserts into a bounded map that forgets its oldest entry (counted as wasted when it is a warm key). */
  private remember<V>(map: Map<string, V>, key: string, value: V, cap: number): void {
    map.set(key, value);
    if (map.size <= cap) return;
    const oldest = map.keys().next().value as string;
    if (map === (this.warm as Map<string, unknown>) && this.warm.get(oldest) === WARM_READY) this.warming!.wasted++;
    map.delete(oldest);
  }

  /** A level's state; `tier` names it when it is new (batched hits carry no name: the cache's is used). */
  private level(level: number, tier?: string): LevelState {
    let state = this.levels[level];
    if (state === undefined) {
      const name = tier ?? this.tierName(level);
      for (let i = this.levels.length; i <= level; i++) this.levels[i] ??= new LevelState(i === level ? name : "?");
      state = this.levels[level]!;
    }
    return state;
  }

  private tierName(level: number): string {
    try {
      return this.source.levelStats()[level]?.name ?? "?";
    } catch {
      return "?";
    }
  }

  private info(key: string): KeyInfo {
    let info = this.keys.get(key);
    if (info !== undefined) return info;
    info = { reads: 0, hash: fnv1a(key), array: undefined, coords: undefined, cell: 0 };
    if (this.arrays.size > 0) {
      const placement = this.locator.locate(storePath(key));
      const array = placement && this.arrays.get(placement.array.path);
      if (array !== undefined) {
        info.array = array;
        info.coords = placement!.coords;
        info.cell = array.heatmap.cellOf(placement!.coords);
      }
    }
    this.keys.set(key, info);
    if (this.keys.size > this.options.maxTrackedKeys) this.pruneKeys();
    return info;
  }

  /** Drops the less-read half of the tracked keys (amortised O(log n) per new key). */
  private pruneKeys(): void {
    const sorted = [...this.keys.entries()].sort((a, b) => b[1].reads - a[1].reads);
    this.keys.clear();
    for (const [key, info] of sorted.slice(0, this.options.maxTrackedKeys >> 1)) this.keys.set(key, info);
  }

  // ─── reading ─────────────────────────────────────────────────────────────────

  /** Closes the open timeline interval (called by the interval timer). */
  tick(now = Date.now()): void {
    this.timeline.push(Object.freeze({ at: this.intervalStart, ...this.current }));
    if (this.timeline.length > this.options.timelineLength) this.timeline.shift();
    this.current = { reads: 0, hits: 0, misses: 0, loads: 0, busyMs: 0 };
    this.intervalStart = now;
  }

  /** Closed intervals, oldest first, plus the open one. */
  timelinePoints(): TimelinePoint[] {
    return [...this.timeline, Object.freeze({ at: this.intervalStart, ...this.current })];
  }

  /** The most read tracked keys. */
  hotKeys(limit: number, array?: ArrayState): { key: string; reads: number; coords?: readonly number[] }[] {
    const out: { key: string; reads: number; coords?: readonly number[] }[] = [];
    for (const [key, info] of this.keys) {
      if (info.reads === 0 || (array !== undefined && info.array !== array)) continue;
      out.push(info.coords ? { key, reads: info.reads, coords: info.coords } : { key, reads: info.reads });
    }
    return out.sort((a, b) => b.reads - a.reads).slice(0, limit);
  }

  /** Read counts of every tracked key (for the access distribution). */
  keyReads(): number[] {
    const out: number[] = [];
    for (const info of this.keys.values()) if (info.reads > 0) out.push(info.reads);
    return out;
  }

  snapshot(): MetricsSnapshot {
    this.flushHits();
    let stats: TierStats | undefined;
    let levelStats: LevelStats[] = [];
    try {
      stats = this.source.stats();
      levelStats = this.source.levelStats();
    } catch {
      // A closed cache has no stats: the event counters still stand.
    }
    const levelCount = Math.max(this.levels.length, levelStats.length);
    const levels: LevelSnapshot[] = [];
    for (let i = 0; i < levelCount; i++) {
      const state = this.levels[i];
      const tier = levelStats[i]?.tier;
      levels.push(
        Object.freeze({
          level: i,
          tier: levelStats[i]?.name ?? state?.tier ?? "?",
          hits: state?.hits ?? 0,
          misses: state?.misses ?? 0,
          absentHits: state?.absentHits ?? 0,
          hitBytes: state?.hitBytes ?? 0,
          hitLatency: state?.hitLatency.data() ?? emptyHistogram(),
          missLatency: state?.missLatency.data() ?? emptyHistogram(),
          evictions: Object.freeze({ evict: state?.evict ?? 0, expire: state?.expire ?? 0 }),
          errors: state?.errors ?? 0,
          entries: finite(tier?.entries),
          bytes: finite(tier?.bytes),
          maxBytes: finite(tier?.maxBytes),
        }),
      );
    }
    const arrays: ArraySnapshot[] = [...this.arrays.values()].map((a) =>
      Object.freeze({
        path: a.array.path,
        reads: a.reads,
        hits: a.hits,
        misses: a.misses,
        pairs: a.pairs,
        neighbourPairs: a.neighbourPairs,
      }),
    );
    const warming: WarmingSnapshot | undefined = this.warming && Object.freeze({ ...this.warming });
    const takenAt = Date.now();
    return Object.freeze({
      takenAt,
      startedAt: this.startedAt,
      windowStart: this.startedAt,
      ...this.counts,
      joins: stats?.joins ?? 0,
      droppedWrites: stats?.droppedWrites ?? 0,
      tooLarge: stats?.tooLarge ?? 0,
      pendingWrites: stats?.pendingWrites ?? 0,
      levels: Object.freeze(levels),
      upstream: Object.freeze({
        loads: this.upstream.loads,
        absent: this.upstream.absent,
        bytes: this.upstream.bytes,
        errors: stats?.loadErrors ?? 0,
        timeouts: stats?.loadTimeouts ?? 0,
        aborts: stats?.loadAborts ?? 0,
        latency: this.upstream.latency.data(),
      }),
      arrays: Object.freeze(arrays),
      warming,
    });
  }
}

/** Grid neighbours: equal but for one dimension, where they differ by exactly one. */
export function isNeighbour(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d === 0) continue;
    if ((d !== 1 && d !== -1) || ++differing > 1) return false;
  }
  return differing === 1;
}

/**
 * The store path of a cache key (`zc1|namespace|path[\0r…]`); a key of another shape is taken as a
 * path. Plain keys (the usual case) are sliced; keys with escapes go through parseCacheKey.
 */
export function storePath(key: string): string {
  if (!key.startsWith("zc1|")) return key;
  const end = key.indexOf("|", 4);
  if (end !== -1) {
    const nul = key.indexOf("\u0000", end);
    if (nul === -1) return key.slice(end + 1);
    if (key.charCodeAt(nul + 1) === 114 /* r */ && key.indexOf("\u0000", nul + 1) === -1) return key.slice(end + 1, nul);
  }
  return parseCacheKey(key)?.path ?? key;
}

function isPrefetch(event: object): boolean {
  return (event as { origin?: unknown }).origin === "prefetch";
}

function finite(value: number | undefined): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
