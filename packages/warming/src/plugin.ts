import {
  type ArraySelection,
  assertKnownOptions,
  type CachePlugin,
  DatasetArrays,
  type KeyPlace,
  type PluginContext,
  type PrefetchOutcome,
  type PrefetchTarget,
  type ZarrArray,
  ZarrsCacheError,
  isZarrsCacheError,
} from "@zarrs-cache/core";
import { assertOptionsObject, badOption, nonNegativeNumber, positiveInteger } from "./errors.js";
import { neighbor } from "./neighbor.js";
import { predictive } from "./predictive.js";
import { type RegionArray, type RegionResult, type WarmRegionOptions, warmRegion } from "./region.js";
import { ChunkKeys } from "./resolve.js";
import { type Budget, type Requester, Scheduler } from "./scheduler.js";
import type { StrategyStats, WarmingStrategy } from "./types.js";

export interface WarmingOptions {
  /** What to warm (default `[neighbor(), predictive()]`). */
  strategies?: readonly WarmingStrategy[];
  budget?: Partial<Budget>;
  /** "lower" keeps prefetched bytes out of the first tier (a small L1); default "all". */
  target?: PrefetchTarget;
  /** How often strategies with a `tick` (time-aware) are asked what to warm, in ms (default 60,000; 0: only `tick()`). */
  tickMs?: number;
}

export interface WarmingStats {
  /** Per strategy, plus "keys" (`warmKeys`) and "region" (`warmRegion`) once used. */
  strategies: Record<string, StrategyStats>;
  /** Bytes loaded ahead and not read yet. */
  unreadBytes: number;
  paused: boolean;
}

export interface WarmingPlugin extends CachePlugin {
  stats(): WarmingStats;
  /** Stops issuing prefetches and cancels those waiting or loading (reads are unaffected). */
  pause(): void;
  resume(): void;
  /** Prefetches these cache keys now (outside the strategies' budget, demand first). */
  warmKeys(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<PrefetchOutcome[]>;
  /** `warmRegion` (see its docs), counted in `stats().strategies.region`. */
  warmRegion(array: RegionArray, selection: ArraySelection, options?: WarmRegionOptions): Promise<RegionResult>;
  /** Asks strategies with a `tick` (time-aware) what to warm now, and waits until it is loaded. */
  tick(): Promise<void>;
  /** Resolves once no prefetch of the strategies is waiting or loading. */
  idle(): Promise<void>;
}

const OWNER = "warming()";
const MAX_PLACED = 16_384;
const OFFER_MEMO_MS = 5_000;
/** Demand hits of one batch the strategies hear: the latest ones. */
const LATEST_HITS = 64;
const KEYS: Requester = { name: "keys", priority: 0 };
const REGION: Requester = { name: "region", priority: -1 };

/**
 * The warming plugin: `createCache().tier(...).use(warming({ strategies: [...] })).build()`.
 * It listens to demand reads, places them on their arrays' chunk grids (metadata read through the
 * cache), asks each strategy what to load next, and prefetches it within the budget, demand first.
 */
export function warming(options: WarmingOptions = {}): WarmingPlugin {
  assertOptionsObject(OWNER, options);
  assertKnownOptions(OWNER, options, ["strategies", "budget", "target", "tickMs"]);
  const strategies = options.strategies ?? [neighbor(), predictive()];
  if (!Array.isArray(strategies)) throw badOption(OWNER, "strategies", "must be an array like [neighbor(), predictive()]", strategies);
  strategies.forEach((s, i) => {
    if (typeof s?.name !== "string" || !Number.isFinite(s?.priority)) {
      throw badOption(OWNER, `strategies[${i}]`, "must be a strategy such as neighbor(), predictive() or timeAware()", s);
    }
  });
  if (new Set(strategies.map((s) => s.name)).size !== strategies.length) {
    throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: option "strategies" names a strategy twice`);
  }
  const budgetOptions = options.budget ?? {};
  assertOptionsObject(`${OWNER} budget`, budgetOptions);
  assertKnownOptions(`${OWNER} option "budget"`, budgetOptions, ["maxInFlight", "maxQueued", "maxUnreadBytes"]);
  const budget: Budget = {
    maxInFlight: positiveInteger(OWNER, "budget.maxInFlight", budgetOptions.maxInFlight, 8),
    maxQueued: positiveInteger(OWNER, "budget.maxQueued", budgetOptions.maxQueued, 256),
    maxUnreadBytes: nonNegativeNumber(OWNER, "budget.maxUnreadBytes", budgetOptions.maxUnreadBytes, 64 * 1024 * 1024),
  };
  const target = options.target ?? "all";
  if (target !== "all" && target !== "lower") throw badOption(OWNER, "target", 'must be "all" or "lower"', target);
  const tickMs = nonNegativeNumber(OWNER, "tickMs", options.tickMs, 60_000);

  const requesters = new Map<WarmingStrategy, Requester>(strategies.map((s) => [s, { name: s.name, priority: s.priority, strategy: s }]));
  const chunkStrategies = strategies.filter((s) => typeof s.onChunkRead === "function");
  const keyStrategies = strategies.filter((s) => typeof s.onKeyRead === "function");
  const tickStrategies = strategies.filter((s) => typeof s.tick === "function");
  let context: PluginContext | undefined;
  /** The dataset and array behind each key, learnt from metadata read through the cache. */
  let arrays: DatasetArrays | undefined;
  let scheduler: Scheduler | undefined;
  let chunkKeys: ChunkKeys | undefined;
  /** Delivers the demand hits the cache buffered (before stats are read or strategies ticked). */
  let flushHits = () => {};

  const installed = (method: string) => {
    if (scheduler === undefined)
      throw new ZarrsCacheError(
        "INVALID_ARGUMENT",
        `warming.${method}(): install the plugin first: createCache().tier(...).use(warming(...)).build()`,
      );
    return { context: context!, scheduler };
  };

  const guard = (strategy: WarmingStrategy, key: string, run: () => void) => {
    try {
      run();
    } catch (error) {
      context!.reportError(`warming.${strategy.name}`, key, error);
    }
  };

  // One object reused for every read (strategies must not keep it): no allocation per memory hit.
  const read = {
    key: "",
    namespace: "",
    keys: undefined as unknown as KeyPlace["keys"],
    array: undefined as unknown as ZarrArray,
    chunk: [] as readonly number[],
  };
  const offerChunks = (key: string, place: KeyPlace, array: ZarrArray, chunk: readonly number[]) => {
    read.key = key;
    read.namespace = place.namespace;
    read.keys = place.keys;
    read.array = array;
    read.chunk = chunk;
    for (const strategy of chunkStrategies) {
      try {
        const wanted = strategy.onChunkRead!(read);
        if (wanted === undefined || wanted.length === 0) continue;
        const by = requesters.get(strategy)!;
        if (!array.sharded) scheduler!.offer(freshKeys(place, array, wanted), by, array);
        else
          scheduler!.track(
            chunkKeys!.resolve(place.keys, array, wanted).then(
              (keys) => offerLater(key, strategy, keys, array),
              () => undefined,
            ),
          );
      } catch (error) {
        context!.reportError(`warming.${strategy.name}`, key, error);
      }
    }
  };

  /** Offers keys found asynchronously (shard ranges): the cache may have closed meanwhile. */
  const offerLater = (key: string, strategy: WarmingStrategy, keys: readonly string[], array: ZarrArray) => {
    try {
      scheduler!.offer(keys, requesters.get(strategy)!, array);
    } catch (error) {
      if (!isZarrsCacheError(error, "CLOSED")) context!.reportError(`warming.${strategy.name}`, key, error);
    }
  };

  /** Unsharded chunk keys already placed (null: not a chunk key): a memory hit then costs one Map lookup. */
  const placed = new Map<string, { place: KeyPlace; array: ZarrArray; chunk: readonly number[] } | null>();
  const learn = (key: string) => {
    void arrays!.learn(key).then((array) => array !== undefined && placed.clear());
  };

  const onDemand = (key: string) => {
    scheduler!.demandRead(key);
    react(key);
  };

  /** What the strategies make of a demand read. */
  const react = (key: string) => {
    for (const strategy of keyStrategies) guard(strategy, key, () => strategy.onKeyRead!(key));
    if (scheduler!.isPaused || chunkStrategies.length === 0) return;
    const known = placed.get(key);
    if (known !== undefined) {
      if (known !== null) offerChunks(key, known.place, known.array, known.chunk);
      return;
    }
    const place = arrays!.place(key);
    if (place === undefined) return;
    if (place.coords === undefined) {
      if (place.range === undefined && DatasetArrays.isMetadataPath(place.path)) learn(key);
      else if (place.array !== undefined) remember(key, null);
      return;
    }
    const array = place.array!;
    if (!array.sharded) {
      remember(key, { place, array, chunk: place.coords });
      return offerChunks(key, place, array, place.coords);
    }
    if (place.range === undefined) return;
    scheduler!.track(
      chunkKeys!.chunkOfRange(place.keys, array, place.coords, place.range as never).then(
        (chunk) => chunk && offerChunks(key, place, array, chunk),
        () => undefined,
      ),
    );
  };

  /**
   * The keys of chunks not offered in the last OFFER_MEMO_MS: a chunk offered then is loading,
   * loaded or was found cached, so a scan over warm chunks builds no key strings.
   */
  const offered = new WeakMap<ZarrArray, Map<number, number>>();
  const freshKeys = (place: KeyPlace, array: ZarrArray, chunks: readonly (readonly number[])[]) => {
    let memo = offered.get(array);
    if (memo === undefined) offered.set(array, (memo = new Map()));
    if (memo.size >= MAX_PLACED) memo.clear();
    const now = Date.now();
    const keys: string[] = [];
    for (const chunk of chunks) {
      const cell = array.chunkGrid.linearIndex(chunk);
      const last = memo.get(cell);
      if (last !== undefined && now - last < OFFER_MEMO_MS) continue;
      memo.set(cell, now);
      keys.push(place.keys.whole(array.key(chunk)));
    }
    return keys;
  };

  const remember = (key: string, value: { place: KeyPlace; array: ZarrArray; chunk: readonly number[] } | null) => {
    if (placed.size >= MAX_PLACED) placed.clear();
    placed.set(key, value);
  };

  const runTicks = () => {
    for (const strategy of tickStrategies) {
      guard(strategy, "", () => {
        const keys = strategy.tick!();
        if (keys !== undefined && keys.length > 0) scheduler!.offer(keys, requesters.get(strategy)!);
      });
    }
  };

  return {
    name: "warming",
    setup(ctx) {
      if (scheduler !== undefined)
        throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: this plugin is already installed in a cache; create one per cache`);
      context = ctx;
      arrays = new DatasetArrays(
        (key, signal) => ctx.read(key, { kind: "metadata", signal }),
        (key, error) => ctx.reportError("metadata", key, error),
      );
      scheduler = new Scheduler(
        ctx,
        budget,
        target,
        strategies.map((s) => s.name),
      );
      chunkKeys = new ChunkKeys((key, signal) => ctx.read(key, { kind: "chunk", signal }));
      const topLevel = target === "lower" ? 1 : 0;
      // Every demand hit settles a prefetch of its key; the strategies hear the latest LATEST_HITS of
      // a batch (a hot loop of memory hits reads what is cached: what comes next follows its end).
      const hits = ctx.on("hits", (batch) => {
        const { keys, prefetch, length } = batch;
        for (let i = 0; i < length; i++) {
          if (prefetch[i] !== 0) continue;
          scheduler!.demandRead(keys[i]!);
          if (i >= length - LATEST_HITS) react(keys[i]!);
        }
      });
      flushHits = hits.flush;
      const off = [
        hits,
        ctx.on("join", (e) => onDemand(e.key)),
        ctx.on("miss", (e) => {
          if (e.origin !== undefined) return;
          scheduler!.dropped(e.key); // loaded ahead, and gone before this read
          onDemand(e.key);
        }),
        ctx.on("evict", (e) => e.level <= topLevel && scheduler!.dropped(e.key)),
      ];
      const timer = tickStrategies.length > 0 && tickMs > 0 ? setInterval(runTicks, tickMs) : undefined;
      (timer as { unref?: () => void } | undefined)?.unref?.();
      return () => {
        if (timer !== undefined) clearInterval(timer);
        for (const unsubscribe of off) unsubscribe();
        scheduler!.close();
      };
    },
    stats() {
      flushHits();
      return { strategies: scheduler?.allStats() ?? {}, unreadBytes: scheduler?.unread ?? 0, paused: scheduler?.isPaused ?? false };
    },
    pause() {
      installed("pause").scheduler.pause();
    },
    resume() {
      installed("resume").scheduler.resume();
    },
    warmKeys(keys, warmOptions = {}) {
      const { context: ctx, scheduler: s } = installed("warmKeys");
      assertOptionsObject("warming.warmKeys()", warmOptions);
      assertKnownOptions("warming.warmKeys()", warmOptions, ["signal"]);
      return ctx.prefetch(keys, {
        signal: warmOptions.signal,
        priority: KEYS.priority,
        target,
        concurrency: budget.maxInFlight,
        onOutcome: (outcome) => s.account(KEYS, outcome),
      });
    },
    warmRegion(array, selection, regionOptions) {
      const { scheduler: s } = installed("warmRegion");
      return warmRegion(array, selection, regionOptions, (outcome) => s.account(REGION, outcome));
    },
    tick() {
      const { scheduler: s } = installed("tick");
      flushHits();
      runTicks();
      return s.idle();
    },
    idle() {
      const { scheduler: s } = installed("idle");
      flushHits();
      return s.idle();
    },
  };
}
