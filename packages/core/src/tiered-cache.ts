import { deletePrefixOf } from "./tier-kit/delete-prefix.js";
import { Changes, type KeyMatcher } from "./changes.js";
import { Deadlines } from "./deadlines.js";
import { isZarrsCacheError, ZarrsCacheError } from "./errors.js";
import { CACHE_EVENT_TYPES, Emitter, type CacheEventListener, type CacheEvents, type CacheEventType } from "./events.js";
import { CacheEmitter } from "./hit-batch.js";
import { Flight, type AbandonListener } from "./flight.js";
import { DEFAULT_HOLD_TIME, Holds } from "./holds.js";
import { PendingWrites } from "./pending-writes.js";
import {
  assertPrefetchOptions,
  concurrencyOf,
  eachLimited,
  PrefetchGate,
  type PrefetchOptions,
  type PrefetchOutcome,
  type PrefetchTarget,
  type Speculation,
} from "./prefetch-queue.js";
import type { CacheEntry, CacheTier, SetOptions, TierGetOptions, TierInvalidation, TierStats } from "./types.js";
import { assertKey, assertSetOptions, assertValue, closestName, describe, remainingTtl } from "./validate.js";
import type { KeyKind } from "./zarr-keys.js";
import {
  assertLoadArguments,
  assertLoadOptions,
  loadTimeoutOf,
  msOrNever,
  ttlClassesOf,
  validateCacheOptions,
  type CacheStats,
  type LevelStats,
  type LoadOptions,
  type Loader,
  type TierWriteOutcome,
  type TieredCacheOptions,
  type Ttl,
  type WritePolicy,
  type WriteResult,
} from "./tiered-cache-options.js";

export type { CacheStats, LevelStats, LoadOptions, Loader, TieredCacheOptions, TierWriteOutcome, WritePolicy, WriteResult };

type LoadOutcome = "failed" | "aborted" | "uncached";

/** An empty value in a tier is the marker for "known absent" (see the README). */
const ABSENT = new Uint8Array(0);
const NO_LOAD: TierGetOptions = Object.freeze({ load: false });
const LOAD: TierGetOptions = Object.freeze({ load: true });
/** One first-tier lookup in this many is timed (a power of two). */
const L1_TIMING_EVERY = 16;

/**
 * Read-through over ordered tiers: an L1 hit is answered synchronously; otherwise one load per
 * key at a time walks the lower tiers, then the loader, and fills the tiers above the hit.
 * A TieredCache is itself a CacheTier, so it can be nested or wrapped.
 */
export class TieredCache implements CacheTier {
  readonly name = "tiered";
  /** Events one by one (`events.on`), and hits in batches for plugins (`events.hits`, see HitBatch). */
  readonly events = new CacheEmitter();

  private readonly tiers: CacheTier[];
  private readonly l1: CacheTier | undefined;
  /** The flight a new reader of a key joins. */
  private readonly flights = new Map<string, Flight>();
  /** Flights a change detached from `flights`: still answering their waiters, caching nothing. */
  private readonly detached = new Set<Flight>();
  private readonly changes = new Changes();
  /** Times flights out; undefined when `loadTimeout` is off. */
  private readonly deadlines: Deadlines | undefined;
  private readonly writes: PendingWrites;
  /** Holds on upper tiers after a lower tier's update failed (see CacheTier.hold). */
  private readonly holding: Holds;
  /** TTL classes in ms; undefined: no expiry. */
  private readonly ttl: Record<KeyKind | "absent", number | undefined>;
  private readonly negativeCaching: boolean;
  readonly writePolicy: WritePolicy;
  private readonly unsubscribes: (() => void)[] = [];
  private readonly teardowns: (() => void | Promise<void>)[] = [];
  private readonly loaders: { prefix: string; load: PrefetchLoader }[] = [];
  private readonly levelHits: number[];
  /** Lookups that reached a level and found nothing there. */
  private readonly levelMisses: number[];
  private counters = {
    ...{ misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0, loads: 0, loadErrors: 0, absentHits: 0, joins: 0, backfills: 0 },
    ...{ tooLarge: 0, loadTimeouts: 0, loadAborts: 0 },
  };
  private closed = false;
  /** First-tier lookups while timed (see timedL1). */
  private l1Lookups = 0;
  /** Demand loads waiting for the loader now; prefetches wait at `gate` while there are any. */
  private demandUpstream = 0;
  private readonly gate = new PrefetchGate(() => this.demandUpstream);

  constructor(tiers: CacheTier[], options: TieredCacheOptions = {}) {
    if (tiers.length === 0) throw new ZarrsCacheError("INVALID_CONFIG", "a TieredCache needs at least one tier");
    validateCacheOptions(options);
    this.tiers = [...tiers];
    const loadTimeout = loadTimeoutOf(options);
    this.deadlines = loadTimeout === undefined ? undefined : new Deadlines(loadTimeout);
    this.l1 = typeof tiers[0]!.getSync === "function" ? tiers[0] : undefined;
    this.ttl = ttlClassesOf(options);
    this.negativeCaching = options.negativeCaching ?? true;
    this.writePolicy = options.writePolicy ?? "write-through";
    this.writes = new PendingWrites(options.maxPendingWrites ?? 1024, (operation, tier, key, error) =>
      this.reportError(operation, tier, key, error),
    );
    this.holding = new Holds(this.tiers, options.holdTime ?? DEFAULT_HOLD_TIME, (operation, tier, key, error) =>
      this.reportError(operation, tier, key, error),
    );
    this.levelHits = tiers.map(() => 0);
    this.levelMisses = tiers.map(() => 0);
    tiers.forEach((tier, level) => {
      if (tier.onInvalidation) this.unsubscribes.push(tier.onInvalidation((message) => this.onRemoteInvalidation(level, message)));
      if (tier.onEviction) {
        this.unsubscribes.push(
          tier.onEviction((key, reason) => {
            if (this.events.has("evict")) this.events.emit("evict", { key, tier: tier.name, level, reason });
          }),
        );
      }
    });
  }

  /** The tiers, top (fastest) first. */
  get levels(): readonly CacheTier[] {
    return this.tiers;
  }

  // ─── read-through ────────────────────────────────────────────────────────────

  /**
   * The value for `key`: from the first tier that has it, else from `loader` (once per key
   * however many callers ask at once). Resolves undefined when the key is absent upstream.
   * The returned buffer may be shared with the cache: copy it before mutating.
   */
  getOrLoad(key: string, loader: Loader, options?: LoadOptions): Promise<Uint8Array | undefined> {
    try {
      assertLoadArguments("getOrLoad", loader, options);
      const hit = this.peek(key);
      if (hit !== undefined) return Promise.resolve(hit === null ? undefined : hit);
      return this.joinFlight(key, loader, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Synchronous L1 lookup: the value, `null` for a cached "absent", or undefined when L1 does not
   * know (or the first tier has no synchronous path). Never touches lower tiers.
   */
  peek(key: string): Uint8Array | null | undefined {
    if (this.closed) throw closedError();
    const l1 = this.l1;
    if (l1 === undefined) return undefined;
    const started = this.timedL1() ? performance.now() : -1;
    const entry = this.l1Lookup(l1, key);
    if (entry === undefined) {
      this.countLevelMiss(key, 0, started);
      return undefined;
    }
    return this.countHit(key, 0, entry.value, started);
  }

  /** True while someone listens to lookups: only then is a lookup timed (the L1 hit path stays lean). */
  private timed(): boolean {
    return this.events.hits.listening || this.events.has("hit") || this.events.has("levelMiss");
  }

  /**
   * Whether to time this first-tier lookup: one in L1_TIMING_EVERY while someone listens. Reading
   * the clock twice costs more than an in-memory lookup itself, so the latency of the first tier is
   * sampled; lower tiers (asynchronous, slower) are timed on every lookup.
   */
  private timedL1(): boolean {
    return this.timed() && (++this.l1Lookups & (L1_TIMING_EVERY - 1)) === 0;
  }

  private countLevelMiss(key: string, level: number, started: number, speculative?: boolean): void {
    // A prefetch is not demand: no miss counted, the event says where it came from.
    if (!speculative) this.levelMisses[level]!++;
    if (this.events.has("levelMiss")) {
      const ms = started < 0 ? undefined : performance.now() - started;
      const tier = this.tiers[level]!.name;
      this.events.emit("levelMiss", speculative ? { key, tier, level, ms, origin: "prefetch" } : { key, tier, level, ms });
    }
  }

  private l1Lookup(l1: CacheTier, key: string): CacheEntry | undefined {
    try {
      return l1.getSync!(key);
    } catch (error) {
      // A bad key is the caller's error; a failing tier is a miss served from elsewhere.
      if (isZarrsCacheError(error, "INVALID_KEY")) throw error;
      this.reportError("get", l1, key, error);
      return undefined;
    }
  }

  private countHit(key: string, level: number, value: Uint8Array, started: number, speculative?: boolean): Uint8Array | null {
    const bytes = value.byteLength;
    // A prefetch is not demand: no hit counted, the event says where it came from.
    if (!speculative) {
      this.levelHits[level]!++;
      if (bytes === 0) this.counters.absentHits++;
    }
    // The event reaches batch listeners too; with only those, no event object is built.
    if (this.events.has("hit")) this.emitHit(key, level, bytes, started, speculative);
    else if (this.events.hits.listening) {
      // As the event: a prefetch's lookup carries no time.
      const ms = started < 0 || speculative ? Number.NaN : performance.now() - started;
      this.events.hits.push(key, level, bytes, ms, speculative === true);
    }
    return bytes === 0 ? null : value;
  }

  private emitHit(key: string, level: number, bytes: number, started: number, speculative: boolean | undefined): void {
    const tier = this.tiers[level]!.name;
    const absent = bytes === 0;
    if (speculative) this.events.emit("hit", { key, tier, level, absent, bytes, origin: "prefetch" });
    else this.events.emit("hit", { key, tier, level, absent, bytes, ms: started < 0 ? undefined : performance.now() - started });
  }

  /**
   * The slow half of `getOrLoad`, for callers that already tried `peek()`: walks the lower
   * tiers, then the loader, with one load per key however many callers wait for it.
   */
  load(key: string, loader: Loader, options?: LoadOptions): Promise<Uint8Array | undefined> {
    if (this.closed) return Promise.reject(closedError());
    try {
      assertKey(key);
      assertLoadArguments("load", loader, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.joinFlight(key, loader, options);
  }

  /** Joins the key's flight, or starts one. A caller whose signal already fired starts nothing. */
  private joinFlight(key: string, loader: Loader, options: LoadOptions | undefined): Promise<Uint8Array | undefined> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.flights.get(key);
    if (flight !== undefined) {
      this.counters.joins++;
      const speculation = flight.speculation;
      if (speculation !== undefined && !speculation.promoted) this.promote(speculation);
      if (this.events.has("join")) this.events.emit("join", { key, flight: speculation === undefined ? "demand" : "prefetch" });
    } else flight = this.startFlight(key, loader, options?.kind ?? "other", undefined, options?.ttl);
    return flight.join(signal);
  }

  /**
   * A reader joined a prefetch: the load counts as demand from now on. It does not hold other
   * prefetches back: its request is already out, and waiting would not bring it in sooner.
   */
  private promote(speculation: Speculation): void {
    speculation.promoted = true;
  }

  /** `ttl`: the caller's TTL for what the load caches (default: the `kind`'s class). */
  private startFlight(key: string, loader: Loader, kind: KeyKind, speculation?: Speculation, ttl?: Ttl): Flight {
    // A load that starts while a change of its key is in progress may read the old value.
    const flight = new Flight(key, this.changes.affects(key), this.onAbandon);
    flight.speculation = speculation;
    this.flights.set(key, flight);
    this.deadlines?.add(flight);
    this.fly(flight, loader, kind, ttl).then(
      (value) => {
        this.land(flight, "uncached");
        flight.answer(value);
      },
      (error: unknown) => {
        this.land(flight, "failed");
        flight.fail(error);
      },
    );
    return flight;
  }

  /** The flight's work ended (answered or failed): forget it, and settle what it did not fill. */
  private land(flight: Flight, outcome: LoadOutcome): void {
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
    this.deadlines?.remove(flight);
    if (this.detached.size > 0) this.detached.delete(flight);
    this.settleLoads(flight, outcome);
  }

  private readonly onAbandon: AbandonListener = (flight, reason) => {
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
    this.deadlines?.remove(flight);
    this.detached.delete(flight);
    if (reason === "timeout") this.counters.loadTimeouts++;
    else if (reason === "aborted") this.counters.loadAborts++;
    this.settleLoads(flight, "aborted");
    if (this.events.has("abandon")) {
      const origin = isSpeculative(flight) ? "prefetch" : undefined;
      this.events.emit("abandon", { key: flight.key, reason, ms: Date.now() - flight.started, ...(origin && { origin }) });
    }
  };

  private async fly(flight: Flight, loader: Loader, kind: KeyKind, ttl: Ttl | undefined): Promise<Uint8Array | undefined> {
    const key = flight.key;
    const found = await this.lookup(key, this.l1 ? 1 : 0, flight);
    if (flight.done) return undefined; // abandoned meanwhile: nobody listens
    if (found !== undefined) return found.value.byteLength === 0 ? undefined : found.value;

    const speculative = isSpeculative(flight);
    if (!speculative) this.counters.misses++;
    if (this.events.has("miss")) this.events.emit("miss", speculative ? { key, origin: "prefetch" } : { key });
    const started = performance.now();
    let value: Uint8Array | undefined;
    this.enterUpstream(flight);
    try {
      this.counters.loads++;
      // A loader declared without a parameter never sees the signal: spare it the AbortController.
      value = await (loader.length === 0 ? (loader as () => Promise<Uint8Array | undefined>)() : loader(flight.signal));
    } catch (error) {
      if (!flight.done) this.counters.loadErrors++;
      throw error;
    } finally {
      this.leaveUpstream(flight, performance.now() - started);
    }
    if (flight.done) return undefined;
    if (value !== undefined && !(value instanceof Uint8Array)) {
      throw new ZarrsCacheError("UPSTREAM_ERROR", `the loader for ${key} returned ${describe(value)}, not a Uint8Array or undefined`);
    }
    if (this.events.has("load")) {
      const event = { key, bytes: value?.byteLength ?? 0, absent: value === undefined, ms: performance.now() - started };
      this.events.emit("load", isSpeculative(flight) ? { ...event, origin: "prefetch" } : event);
    }
    const from = this.fillStart(flight);
    if (!flight.stale && !this.closed) {
      if (value === undefined) {
        if (this.negativeCaching)
          this.markFilled(flight, this.fill(key, ABSENT, this.absentTtl(ttl), this.tiers.length, flight.started, from));
      } else if (value.byteLength > 0) {
        // A real empty value is never cached: an empty entry means "absent".
        this.markFilled(flight, this.fill(key, value, this.valueTtl(kind, ttl), this.tiers.length, flight.started, from));
      }
    }
    return value;
  }

  /** The TTL of a value a load caches: the caller's, else the kind's class (undefined: no expiry). */
  private valueTtl(kind: KeyKind, ttl: Ttl | undefined): number | undefined {
    return ttl === undefined ? this.ttl[kind] : msOrNever(ttl);
  }

  /** A cached "absent" lives no longer than the caller's TTL for the value, nor than the `absent` class. */
  private absentTtl(ttl: Ttl | undefined): number | undefined {
    const absent = this.ttl.absent;
    if (ttl === undefined || ttl === false) return absent;
    return absent === undefined ? ttl : Math.min(ttl, absent);
  }

  /** Counts a demand load waiting upstream (prefetches wait meanwhile). */
  private enterUpstream(flight: Flight): void {
    const speculation = flight.speculation;
    if (speculation === undefined) this.demandUpstream++;
    else speculation.loaded = true;
  }

  private leaveUpstream(flight: Flight, ms: number): void {
    if (flight.speculation !== undefined) return;
    this.demandUpstream--;
    this.gate.demandEnded(ms);
  }

  /** The first level a flight fills: 1 for a prefetch that keeps its bytes out of L1 (`target: "lower"`). */
  private fillStart(flight: Flight | undefined): number {
    const speculation = flight?.speculation;
    return speculation?.target === "lower" && !speculation.promoted && this.tiers.length > 1 ? 1 : 0;
  }

  /**
   * Looks in tiers[from..]; on a hit fills the tiers above it. A flight's lookup fills only while
   * the flight is not stale; a plain lookup only if no change started or ended during it (`epoch`).
   */
  private async lookup(
    key: string,
    from: number,
    flight?: Flight,
    epoch?: number,
    speculativeFill?: number,
  ): Promise<CacheEntry | undefined> {
    // Without a flight nobody will load on a miss: tell the tiers so (see TierGetOptions.load).
    const options = flight === undefined ? NO_LOAD : LOAD;
    // A backfill copies what the lookup found: it is as old as the lookup (see SetOptions.loadStartedAt).
    const lookupStartedAt = flight?.started ?? Date.now();
    for (let level = from; level < this.tiers.length; level++) {
      const tier = this.tiers[level]!;
      let entry: CacheEntry | undefined;
      let failed = false;
      const started = this.timed() ? performance.now() : -1;
      try {
        entry = await tier.get(key, options);
      } catch (error) {
        failed = true;
        this.reportError("get", tier, key, error);
      }
      const ttl = failed ? 0 : remainingTtl(entry?.expiresAt);
      const missed = entry === undefined || ttl === 0;
      if (flight !== undefined) {
        if (missed) this.noteAsked(flight, level);
        if (flight.done) return undefined;
      }
      // A plain lookup for a prefetch (`speculativeFill` set) counts nothing and fills from that level.
      const speculative = flight === undefined ? speculativeFill !== undefined : isSpeculative(flight);
      if (missed) {
        this.countLevelMiss(key, level, started, speculative);
        continue;
      }
      const from = flight === undefined ? (speculativeFill ?? 0) : this.fillStart(flight);
      if (level > from && (flight === undefined ? epoch === this.changes.epoch && !this.changes.affectsLocally(key) : !flight.stale)) {
        if (!speculative) this.counters.backfills++;
        if (this.events.has("backfill")) this.events.emit("backfill", speculative ? { key, level, origin: "prefetch" } : { key, level });
        const dropped = this.fill(key, entry!.value, ttl, level, lookupStartedAt, from);
        if (flight !== undefined) this.markFilled(flight, dropped);
      }
      this.countHit(key, level, entry!.value, started, speculative);
      return entry;
    }
    return undefined;
  }

  /** A tier missed on the flight's loading get: it must hear how the load ends unless it gets filled. */
  private noteAsked(flight: Flight, level: number): void {
    const tier = this.tiers[level]!;
    if (tier.loadSettled === undefined) return;
    // The flight was abandoned while this tier answered: tell it now, nobody else will.
    if (flight.done) this.tellSettled(tier, flight.key, "aborted");
    else (flight.asked ??= []).push(level);
  }

  /** The flight filled the tiers it missed in, except those whose fill was skipped (`dropped`). */
  private markFilled(flight: Flight, dropped: number[] | undefined): void {
    if (flight.asked === undefined) return;
    flight.asked = dropped === undefined ? undefined : flight.asked.filter((level) => dropped.includes(level));
  }

  /** Tells the tiers a flight asked (and did not fill) that its load ended without filling them. */
  private settleLoads(flight: Flight, outcome: LoadOutcome): void {
    const asked = flight.asked;
    if (asked === undefined) return;
    flight.asked = undefined;
    for (const level of asked) this.tellSettled(this.tiers[level]!, flight.key, outcome);
  }

  private tellSettled(tier: CacheTier, key: string, outcome: LoadOutcome): void {
    try {
      tier.loadSettled!(key, outcome);
    } catch (error) {
      this.reportError("loadSettled", tier, key, error);
    }
  }

  /**
   * Writes `value` into tiers[0..upTo) without making the caller wait. L1 is written now, so the
   * next read finds it; lower tiers are deferred to the next macrotask when L1 holds the value
   * meanwhile (a synchronous SQLite write then overlaps the reader's next wait instead of
   * delaying it), and started at once otherwise. None is awaited. Returns the levels whose fill
   * was skipped (too many pending), if any. `loadStartedAt`: when the load or lookup that produced
   * `value` began, so shared tiers can refuse a fill older than another process's change.
   */
  private fill(
    key: string,
    value: Uint8Array,
    ttl: number | undefined,
    upTo: number,
    loadStartedAt: number,
    from = 0,
  ): number[] | undefined {
    const options: SetOptions = ttl === undefined ? { fill: true, loadStartedAt } : { ttl, fill: true, loadStartedAt };
    let dropped: number[] | undefined;
    for (let level = from; level < upTo; level++) {
      // Lower tiers wait a macrotask only when L1 holds the value meanwhile (it does not when from > 0).
      const accepted =
        level === from || from > 0 || this.l1 === undefined
          ? this.writes.start(this.tiers[level]!, key, value, options)
          : this.writes.defer(this.tiers[level]!, key, value, options);
      if (!accepted) (dropped ??= []).push(level);
    }
    this.counters.sets++;
    if (this.events.has("set")) this.events.emit("set", { key, bytes: value.byteLength });
    return dropped;
  }

  // ─── writes ───────────────────────────────────────────────────────────────────

  /**
   * Writes through to the store with `writer`, then updates the cache by the write policy, and
   * says how each tier took the update (a tier that failed may still hold the old value).
   * Writes of one key run one after another. If `writer` throws, the cache is left as it was
   * and the error propagates. Once this resolves, no read started afterwards sees the old value
   * from this process's tiers (see the README's read-after-change rule). `ttl` (ms, or `false` for
   * no expiry) overrides the `kind`'s TTL class for the cached value.
   */
  async write(
    key: string,
    value: Uint8Array,
    writer: () => Promise<void> | void,
    options?: { kind?: KeyKind; ttl?: Ttl },
  ): Promise<WriteResult> {
    this.assertOpen();
    assertKey(key);
    assertValue(value);
    if (typeof writer !== "function") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `write(key, value, writer): writer must be a function, got ${describe(writer)}`);
    }
    assertLoadOptions("write", options);
    if (options?.signal !== undefined) throw new ZarrsCacheError("INVALID_ARGUMENT", 'write(): option "signal" is not supported');
    const ttl = this.valueTtl(options?.kind ?? "other", options?.ttl);
    return this.changes.serialize(key, () => this.change(sameKey(key), key, () => this.writeThenUpdate(key, value, writer, ttl)));
  }

  private async writeThenUpdate(
    key: string,
    value: Uint8Array,
    writer: () => Promise<void> | void,
    ttl: number | undefined,
  ): Promise<WriteResult> {
    const running = this.changes.beginWrite(key);
    try {
      await writer();
      // Decided in the same tick the store write ended: a removal either overtook it before, or waits for it.
      const cache = !running.overtaken && this.writePolicy === "write-through" && value.byteLength > 0;
      const update = cache
        ? this.setEverywhere(key, value, ttl).then((tiers) => writeResult(key, "cached", tiers))
        : this.deleteEverywhere(key).then(({ tiers }) => writeResult(key, "invalidated", tiers));
      running.updating = update.then(noop, noop);
      return await update;
    } finally {
      this.changes.endWrite(running);
    }
  }

  /**
   * Runs a change of the keys `matches` selects: loads of them already in flight are detached
   * (their callers still get an answer, nothing of theirs is cached, new readers start afresh),
   * loads that start meanwhile cache nothing, queued fills are dropped, and fills already running
   * land before `apply` touches the tiers.
   */
  private async change<T>(matches: KeyMatcher, key: string | undefined, apply: () => Promise<T>, remote = false): Promise<T> {
    this.changes.begin(matches, remote);
    this.detach(matches, key);
    try {
      const result = await apply();
      return result;
    } finally {
      // Loads started during the change may have read the old value: no later reader joins them.
      this.detach(matches, key);
      this.changes.end(matches);
    }
  }

  /** Detaches matching flights and drops matching queued fills. `key`: the one key `matches` selects, if so. */
  private detach(matches: KeyMatcher, key: string | undefined): void {
    if (key !== undefined) {
      const flight = this.flights.get(key);
      if (flight !== undefined) this.detachFlight(flight);
    } else {
      for (const flight of this.flights.values()) if (matches(flight.key)) this.detachFlight(flight);
    }
    this.writes.cancel(matches);
  }

  private detachFlight(flight: Flight): void {
    flight.stale = true;
    this.flights.delete(flight.key);
    this.detached.add(flight);
  }

  /** Sets `value` in every tier; a tier that fails is cleaned up so it cannot serve the old value. */
  private async setEverywhere(key: string, value: Uint8Array, ttl: number | undefined): Promise<TierWriteOutcome[]> {
    // A fill of the old value that a tier is still taking must not land after the new value.
    await this.writes.settled(sameKey(key));
    const options = ttl === undefined ? undefined : { ttl };
    const outcomes = await Promise.all(
      this.tiers.map(async (tier, level): Promise<TierWriteOutcome> => {
        try {
          await tier.set(key, value, options);
          return { name: tier.name, level, ok: true, mayBeStale: false };
        } catch (error) {
          // The tier may still hold the old value: drop it rather than serve stale bytes.
          this.reportError("set", tier, key, error);
          try {
            await tier.delete(key);
            return { name: tier.name, level, ok: false, mayBeStale: false, error };
          } catch (cleanup) {
            this.reportError("delete", tier, key, cleanup);
            // Other processes sharing an upper tier must not copy the old value into it meanwhile.
            await this.holding.place({ key }, level, value);
            return { name: tier.name, level, ok: false, mayBeStale: true, error: cleanup };
          }
        }
      }),
    );
    this.counters.sets++;
    if (this.events.has("set")) this.events.emit("set", { key, bytes: value.byteLength });
    return outcomes;
  }

  private async deleteEverywhere(key: string): Promise<{ removed: boolean; tiers: TierWriteOutcome[] }> {
    await this.writes.settled(sameKey(key));
    let removed = false;
    const tiers: TierWriteOutcome[] = [];
    // Lowest tier first: while a slow shared tier (Redis) still held the old value, another
    // process could copy it back into an upper shared tier (a disk directory) already cleared.
    for (let level = this.tiers.length - 1; level >= 0; level--) {
      const tier = this.tiers[level]!;
      try {
        if (await tier.delete(key)) removed = true;
        tiers[level] = { name: tier.name, level, ok: true, mayBeStale: false };
      } catch (error) {
        this.reportError("delete", tier, key, error);
        tiers[level] = { name: tier.name, level, ok: false, mayBeStale: true, error };
        // Held before the tiers above are cleared: nobody may copy the old value back into them.
        await this.holding.place({ key }, level);
      }
    }
    this.counters.deletes++;
    if (this.events.has("delete")) this.events.emit("delete", { key });
    return { removed, tiers };
  }

  /**
   * Removes every key starting with `prefix` from every tier (also loads in flight for them).
   * Returns the most entries removed from any one tier (tiers mostly hold the same keys).
   */
  async invalidate(prefix: string): Promise<number> {
    this.assertOpen();
    if (typeof prefix !== "string") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `invalidate(prefix) needs a string prefix, got ${describe(prefix)}`);
    }
    const matches: KeyMatcher = (k) => k.startsWith(prefix);
    return this.change(matches, undefined, async () => {
      // A write already running would otherwise put its value back after the removal.
      await this.changes.overtake(matches);
      await this.writes.settled(matches);
      let removed = 0;
      // Lowest tier first, for the reason given in deleteEverywhere.
      for (let level = this.tiers.length - 1; level >= 0; level--) {
        const count = await this.deletePrefixIn(this.tiers[level]!, prefix);
        if (count === undefined) await this.holding.place({ prefix }, level);
        else removed = Math.max(removed, count);
      }
      if (this.events.has("invalidate")) this.events.emit("invalidate", { prefix, remote: false });
      return removed;
    });
  }

  /** Removes `prefix` from `tier`: how many entries went, or undefined when the tier failed (reported). */
  private async deletePrefixIn(tier: CacheTier, prefix: string): Promise<number | undefined> {
    try {
      if (prefix === "") {
        await tier.clear();
        return 0;
      }
      return await deletePrefixOf(tier, prefix);
    } catch (error) {
      this.reportError("invalidate", tier, prefix, error);
      return undefined;
    }
  }

  private onRemoteInvalidation(level: number, message: TierInvalidation): void {
    if (this.closed) return;
    const upper = this.tiers.slice(0, level);
    let matches: KeyMatcher;
    let drop: () => Promise<unknown>;
    if (message.kind === "keys") {
      const keys = new Set(message.keys);
      matches = (k) => keys.has(k);
      const deleteIn = (tier: CacheTier, key: string) => tier.delete(key).catch((e: unknown) => this.reportError("delete", tier, key, e));
      drop = () => Promise.all(upper.flatMap((tier) => [...keys].map((key) => deleteIn(tier, key))));
    } else {
      const prefix = message.kind === "prefix" ? message.prefix : "";
      matches = (k) => k.startsWith(prefix);
      drop = () => Promise.all(upper.map((tier) => this.deletePrefixIn(tier, prefix)));
      if (this.events.has("invalidate")) this.events.emit("invalidate", { prefix, remote: true });
    }
    void this.change(
      matches,
      undefined,
      async () => {
        await this.writes.settled(matches);
        await drop();
        // A repair's own message: the holds it made unnecessary end once the tiers above dropped the key.
        await this.holding.afterInvalidation(level);
      },
      true,
    );
  }

  // ─── prefetch (used by plugins) ──────────────────────────────────────────────

  /**
   * Lets `prefetch` load keys under `prefix` from upstream (the zarrita adapter registers itself).
   * `load` gets the load's signal, which fires when the load is abandoned.
   */
  registerLoader(prefix: string, load: PrefetchLoader): () => void {
    if (typeof prefix !== "string") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `registerLoader(prefix, load): prefix must be a string, got ${describe(prefix)}`);
    }
    if (typeof load !== "function") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `registerLoader(prefix, load): load must be a function, got ${describe(load)}`);
    }
    const entry = { prefix, load };
    this.loaders.push(entry);
    this.loaders.sort((a, b) => b.prefix.length - a.prefix.length);
    return () => {
      const i = this.loaders.indexOf(entry);
      if (i !== -1) this.loaders.splice(i, 1);
    };
  }

  /**
   * Brings keys into the cache ahead of use, and says how each key's prefetch ended. Keys no
   * registered loader knows are only looked up. A prefetch is not demand: its lookups and loads
   * count no hit or miss, its events carry `origin: "prefetch"`, and its loads wait while demand
   * loads are waiting upstream, then start by `priority`, at most `concurrency` of this call at
   * once. It waits for its loads like a reader does: when `signal` aborts, a load nobody else
   * waits for is cancelled, and a reader that joined it keeps it alive. Rejects only for bad
   * arguments, never because a load failed.
   */
  async prefetch(keys: readonly string[], options?: PrefetchOptions): Promise<PrefetchOutcome[]> {
    if (this.closed) return [];
    if (!Array.isArray(keys)) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `prefetch(keys): keys must be an array of strings, got ${describe(keys)}`);
    }
    assertPrefetchOptions(options);
    assertLoadOptions("prefetch", options && { kind: options.kind, signal: options.signal });
    const signal = options?.signal;
    const outcomes = new Map<string, PrefetchOutcome>();
    const report = (key: string, status: PrefetchOutcome["status"], bytes = 0, late = false) => {
      const outcome = { key, status, bytes, late };
      outcomes.set(key, outcome);
      try {
        options?.onOutcome?.(outcome);
      } catch {
        // A faulty progress callback must not stop the prefetch.
      }
    };
    const unique = [...new Set(keys)].filter((key) => typeof key === "string" && key !== "");
    let wanted: string[] = [];
    for (const key of unique) {
      if (signal?.aborted) report(key, "cancelled");
      else if (this.l1 !== undefined && this.l1Lookup(this.l1, key) !== undefined) report(key, "cached");
      else wanted.push(key);
    }
    const target = options?.target ?? "all";
    const from = target === "lower" && this.tiers.length > 1 ? 1 : 0;
    // Tiers that can answer many keys in one round trip (Redis MGET) are asked in batches first.
    for (let level = this.l1 ? 1 : 0; level < this.tiers.length && wanted.length > 0; level++) {
      const tier = this.tiers[level]!;
      if (!tier.getMany) continue;
      const epoch = this.changes.epoch;
      const started = Date.now();
      let entries: (CacheEntry | undefined)[];
      try {
        entries = await tier.getMany(wanted);
      } catch (error) {
        this.reportError("prefetch", tier, undefined, error);
        continue;
      }
      if (signal?.aborted || this.closed) break;
      // Entries read across a change may be old: those keys take the regular (guarded) path.
      const changed = epoch !== this.changes.epoch;
      const missing: string[] = [];
      wanted.forEach((key, i) => {
        const entry = entries[i];
        const ttl = remainingTtl(entry?.expiresAt);
        if (entry === undefined || ttl === 0 || changed || this.flights.has(key) || this.changes.affectsLocally(key)) missing.push(key);
        else {
          if (level > from) this.fill(key, entry.value, ttl, level, started, from);
          report(key, "cached");
        }
      });
      wanted = missing;
    }
    await eachLimited(
      wanted,
      concurrencyOf(options),
      () => signal?.aborted === true || this.closed,
      async (key) => {
        let ended: () => void; // tells the gate this speculative load is no longer upstream
        try {
          ended = await this.gate.admit(options?.priority ?? 0, signal);
        } catch {
          return report(key, "cancelled");
        }
        const source = options?.load === undefined ? this.loaders.find((l) => key.startsWith(l.prefix)) : { load: options.load };
        try {
          if (this.closed) return report(key, "cancelled");
          if (source === undefined) {
            const entry = await this.lookup(key, this.l1 ? 1 : 0, undefined, this.changes.epoch, from);
            return report(key, entry === undefined ? "unknown" : "cached");
          }
          const read = await this.speculate(key, (loadSignal) => source.load(key, loadSignal), options?.kind ?? "other", signal, target);
          report(key, read.status, read.value?.byteLength ?? 0, read.late);
        } catch (error) {
          // The prefetch's own abort is not a failure.
          if (signal?.aborted || this.closed) return report(key, "cancelled");
          this.reportError("prefetch", undefined, key, error);
          report(key, "failed");
        } finally {
          ended();
        }
      },
    );
    for (const key of unique) if (!outcomes.has(key)) report(key, "cancelled");
    return unique.map((key) => outcomes.get(key)!);
  }

  /**
   * Reads a key through the cache as a prefetch does (no hit or miss counted, events marked
   * `origin: "prefetch"`), without waiting for demand loads: for the metadata and shard indexes
   * a plugin needs before it can decide what to prefetch. Resolves undefined when absent.
   */
  async readAhead(key: string, options?: { kind?: KeyKind; signal?: AbortSignal }): Promise<Uint8Array | undefined> {
    this.assertOpen();
    assertKey(key);
    assertLoadOptions("readAhead", options);
    if (this.l1 !== undefined) {
      const entry = this.l1Lookup(this.l1, key);
      if (entry !== undefined) return entry.value.byteLength === 0 ? undefined : entry.value;
    }
    const source = this.loaders.find((l) => key.startsWith(l.prefix));
    if (source === undefined) {
      const entry = await this.lookup(key, this.l1 ? 1 : 0, undefined, this.changes.epoch, 0);
      return entry === undefined || entry.value.byteLength === 0 ? undefined : entry.value;
    }
    const read = await this.speculate(key, (signal) => source.load(key, signal), options?.kind ?? "other", options?.signal, "all");
    return read.value;
  }

  /** True when the first tier holds `key` now (a value or "absent"); counts nothing. False without a synchronous L1. */
  holds(key: string): boolean {
    this.assertOpen();
    return this.l1 !== undefined && this.l1Lookup(this.l1, key) !== undefined;
  }

  /** One speculative read: joins a load already in flight, or starts a flight marked as a prefetch. */
  private async speculate(
    key: string,
    loader: Loader,
    kind: KeyKind,
    signal: AbortSignal | undefined,
    target: PrefetchTarget,
  ): Promise<{ value: Uint8Array | undefined; status: "loaded" | "absent" | "cached"; late: boolean }> {
    if (signal?.aborted) throw signal.reason;
    const running = this.flights.get(key);
    if (running !== undefined) return { value: await running.join(signal), status: "cached", late: false };
    const speculation: Speculation = { target, promoted: false, loaded: false };
    const value = await this.startFlight(key, loader, kind, speculation).join(signal);
    const status = !speculation.loaded ? "cached" : value === undefined ? "absent" : "loaded";
    return { value, status, late: speculation.promoted };
  }

  addTeardown(teardown: () => void | Promise<void>): void {
    this.teardowns.push(teardown);
  }

  // ─── the CacheTier contract ──────────────────────────────────────────────────

  async get(key: string, _options?: TierGetOptions): Promise<CacheEntry | undefined> {
    this.assertOpen();
    assertKey(key);
    // The same walk as a read-through, minus the loader.
    if (this.l1) {
      const started = this.timedL1() ? performance.now() : -1;
      const entry = this.l1Lookup(this.l1, key);
      if (entry) {
        this.countHit(key, 0, entry.value, started);
        return entry;
      }
      this.countLevelMiss(key, 0, started);
    }
    const entry = await this.lookup(key, this.l1 ? 1 : 0, undefined, this.changes.epoch);
    if (entry) return entry;
    this.counters.misses++;
    if (this.events.has("miss")) this.events.emit("miss", { key });
    return undefined;
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.assertOpen();
    assertKey(key);
    assertValue(value);
    assertSetOptions(options);
    await this.changes.serialize(key, () => this.change(sameKey(key), key, () => this.setEverywhere(key, value, options?.ttl)));
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    const matches = sameKey(key);
    return this.change(matches, key, async () => {
      // A write already running would otherwise put its value back after the removal.
      await this.changes.overtake(matches);
      return (await this.deleteEverywhere(key)).removed;
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    return this.invalidate(prefix);
  }

  /**
   * True when a read of `key` would be answered with a value from the tiers: false for a key
   * cached as "absent" (see `hasEntry`). The first tier holding the key decides; its entry is read
   * (that tier counts the read), nothing is loaded, and the cache's own counters do not move.
   */
  async has(key: string): Promise<boolean> {
    return (await this.entryState(key)) === "value";
  }

  /** True when some tier holds an entry for `key`: a value or a cached "absent". Counts nothing. */
  async hasEntry(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    for (const tier of this.tiers) {
      try {
        if (await tier.has(key)) return true;
      } catch (error) {
        this.reportError("has", tier, key, error);
      }
    }
    return false;
  }

  /** What the first tier that holds `key` holds: a value, a cached "absent", or nothing anywhere. */
  private async entryState(key: string): Promise<"value" | "absent" | "none"> {
    this.assertOpen();
    assertKey(key);
    for (const tier of this.tiers) {
      try {
        if (!(await tier.has(key))) continue;
        const entry = await tier.get(key, NO_LOAD);
        // Gone or expired between the two calls: the next tier may still hold it.
        if (entry === undefined || remainingTtl(entry.expiresAt) === 0) continue;
        return entry.value.byteLength === 0 ? "absent" : "value";
      } catch (error) {
        this.reportError("has", tier, key, error);
      }
    }
    return "none";
  }

  async clear(): Promise<void> {
    this.assertOpen();
    await this.invalidate("");
  }

  /** Keys held by any tier (deduplicated). Keys cached as "absent" are included. */
  async *keys(prefix = ""): AsyncIterable<string> {
    this.assertOpen();
    const seen = new Set<string>();
    for (const tier of this.tiers) {
      for await (const key of tier.keys(prefix)) {
        if (seen.has(key)) continue;
        seen.add(key);
        yield key;
      }
    }
  }

  /** Aggregate counters: `hits` at any level, `misses` that reached the loader (or nothing), `hitRate`. */
  stats(): CacheStats {
    const l1 = this.tiers[0]!.stats();
    const hits = this.levelHits.reduce((a, b) => a + b, 0);
    const lookups = hits + this.counters.misses;
    return {
      hits,
      hitRate: lookups === 0 ? 0 : hits / lookups,
      ...this.counters,
      entries: l1.entries,
      bytes: this.tiers.reduce<number | undefined>((sum, t) => {
        const b = t.stats().bytes;
        return sum === undefined || b === undefined ? undefined : sum + b;
      }, 0),
      pendingWrites: this.writes.size,
      droppedWrites: this.writes.dropped,
      holds: this.holding.size,
    };
  }

  // ─── events ───────────────────────────────────────────────────────────────────

  /** Calls `listener` on every `type` event (see `CacheEvents`); returns a function that removes it. */
  on<T extends CacheEventType>(type: T, listener: CacheEventListener<T>): () => void {
    assertListener("on", type, listener);
    return this.events.on(type, listener);
  }

  /** Calls `listener` on the next `type` event only; returns a function that removes it unused. */
  once<T extends CacheEventType>(type: T, listener: CacheEventListener<T>): () => void {
    assertListener("once", type, listener);
    return this.events.once(type, listener);
  }

  /** Removes one registration of `listener` (made with `on` or `once`); true when there was one. */
  off<T extends CacheEventType>(type: T, listener: CacheEventListener<T>): boolean {
    assertListener("off", type, listener);
    return this.events.off(type, listener);
  }

  /** Per-level hits and hit rates, with each tier's own stats. */
  levelStats(): LevelStats[] {
    return this.tiers.map((tier, level) => ({
      name: tier.name,
      level,
      hits: this.levelHits[level]!,
      hitRate: this.levelHits[level]! === 0 ? 0 : this.levelHits[level]! / (this.levelHits[level]! + this.levelMisses[level]!),
      tier: tier.stats(),
    }));
  }

  /** Waits for fills of lower tiers in flight. */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  /**
   * Rejects every caller still waiting for a load with CLOSED and aborts those loads (it never
   * waits for them: one hung upstream request must not hang close()), flushes pending fills,
   * stops plugins, then closes every tier. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    // Plugins hear the last hits while the cache is still open.
    this.events.hits.flush();
    this.closed = true;
    this.holding.close();
    for (const flight of [...this.flights.values(), ...this.detached]) flight.abandon("closed", closedError());
    this.gate.drain();
    this.deadlines?.clear();
    await this.writes.flush();
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    for (const teardown of this.teardowns.reverse()) await teardown();
    const results = await Promise.allSettled(this.tiers.map((tier) => tier.close()));
    this.events.removeAll();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw new ZarrsCacheError("IO_ERROR", "a tier failed to close", { cause: failed.reason });
  }

  private reportError(operation: string, tier: CacheTier | undefined, key: string | undefined, error: unknown): void {
    if (isZarrsCacheError(error, "VALUE_TOO_LARGE")) {
      // Normal for a small upper tier: the value lives in the tiers that can hold it.
      this.counters.tooLarge++;
      return;
    }
    this.counters.errors++;
    if (this.events.has("error")) this.events.emit("error", { operation, tier: tier?.name, key, error });
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }
}

/** Loads a key for `prefetch`; `signal` fires when the load is abandoned. */
export type PrefetchLoader = (key: string, signal: AbortSignal) => Promise<Uint8Array | undefined>;

function noop(): void {}

/** Checks an event name and listener; INVALID_ARGUMENT names a misspelt event with a did-you-mean. */
function assertListener(method: string, type: unknown, listener: unknown): void {
  if (!(CACHE_EVENT_TYPES as readonly unknown[]).includes(type)) {
    const close = typeof type === "string" ? closestName(type, CACHE_EVENT_TYPES) : undefined;
    const hint = close === undefined ? "" : ` — did you mean "${close}"?`;
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `${method}(type, listener): unknown event ${describe(type)}${hint} (events: ${CACHE_EVENT_TYPES.join(", ")})`,
    );
  }
  if (typeof listener !== "function") {
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `${method}("${type as string}", listener): listener must be a function, got ${describe(listener)}`,
    );
  }
}

/** A flight a prefetch started and no reader has joined. */
function isSpeculative(flight: Flight): boolean {
  return flight.speculation !== undefined && !flight.speculation.promoted;
}

function sameKey(key: string): KeyMatcher {
  return (k) => k === key;
}

function writeResult(key: string, action: WriteResult["action"], tiers: TierWriteOutcome[]): WriteResult {
  return { key, action, ok: tiers.every((t) => t.ok), mayBeStale: tiers.some((t) => t.mayBeStale), tiers };
}

function closedError(): ZarrsCacheError {
  return new ZarrsCacheError("CLOSED", "the cache is closed");
}
