import { isZarrsCacheError, ZarrsCacheError } from "./errors.js";
import { Emitter, type CacheEvents } from "./events.js";
import { PendingWrites } from "./pending-writes.js";
import { waitWithSignal } from "./wait-with-signal.js";
import type { CacheEntry, CacheTier, SetOptions, TierGetOptions, TierInvalidation, TierStats } from "./types.js";
import { assertKey, assertSetOptions, assertValue, remainingTtl } from "./validate.js";
import type { KeyKind } from "./zarr-keys.js";
import type { LevelStats, LoadOptions, Loader, TieredCacheOptions, WritePolicy } from "./tiered-cache-options.js";

export type { LevelStats, LoadOptions, Loader, TieredCacheOptions, WritePolicy };

/** An empty value in a tier is the marker for "known absent" (see the README). */
const ABSENT = new Uint8Array(0);
const FILL: SetOptions = Object.freeze({ fill: true });
const NO_LOAD: TierGetOptions = Object.freeze({ load: false });
const DEFAULT_ABSENT_TTL = 10 * 60_000;
const DEFAULT_METADATA_TTL = 10 * 60_000;

interface Flight {
  promise: Promise<Uint8Array | undefined>;
  /** Set when a write or invalidation lands while the load runs: its result must not be cached. */
  stale: boolean;
}

/**
 * Read-through over ordered tiers: an L1 hit is answered synchronously; otherwise one load per
 * key at a time walks the lower tiers, then the loader, and fills the tiers above the hit.
 * A TieredCache is itself a CacheTier, so it can be nested or wrapped.
 */
export class TieredCache implements CacheTier {
  readonly name = "tiered";
  readonly events = new Emitter<CacheEvents>();

  private readonly tiers: CacheTier[];
  private readonly l1: CacheTier | undefined;
  private readonly flights = new Map<string, Flight>();
  private readonly writes: PendingWrites;
  private readonly ttl: Required<Pick<NonNullable<TieredCacheOptions["ttl"]>, "absent">> & NonNullable<TieredCacheOptions["ttl"]>;
  private readonly negativeCaching: boolean;
  readonly writePolicy: WritePolicy;
  private readonly unsubscribes: (() => void)[] = [];
  private readonly teardowns: (() => void | Promise<void>)[] = [];
  private readonly loaders: { prefix: string; load: (key: string) => Promise<Uint8Array | undefined> }[] = [];
  private readonly levelHits: number[];
  /** Lookups that reached a level and found nothing there. */
  private readonly levelMisses: number[];
  private counters = { misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0, loads: 0, loadErrors: 0, absentHits: 0, joins: 0, backfills: 0, tooLarge: 0 };
  private closed = false;

  constructor(tiers: CacheTier[], options: TieredCacheOptions = {}) {
    if (tiers.length === 0) throw new ZarrsCacheError("INVALID_CONFIG", "a TieredCache needs at least one tier");
    this.tiers = [...tiers];
    this.l1 = typeof tiers[0]!.getSync === "function" ? tiers[0] : undefined;
    this.ttl = { metadata: DEFAULT_METADATA_TTL, absent: DEFAULT_ABSENT_TTL, ...options.ttl };
    this.negativeCaching = options.negativeCaching ?? true;
    this.writePolicy = options.writePolicy ?? "write-through";
    this.writes = new PendingWrites(options.maxPendingWrites ?? 1024, (operation, tier, key, error) => this.reportError(operation, tier, key, error));
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
      const hit = this.peek(key);
      if (hit !== undefined) return Promise.resolve(hit === null ? undefined : hit);
      return this.load(key, loader, options);
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
    const entry = this.l1Lookup(l1, key);
    if (entry === undefined) {
      this.levelMisses[0]!++;
      return undefined;
    }
    return this.countHit(key, 0, entry.value);
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

  private countHit(key: string, level: number, value: Uint8Array): Uint8Array | null {
    this.levelHits[level]!++;
    const absent = value.byteLength === 0;
    if (absent) this.counters.absentHits++;
    if (this.events.has("hit")) this.events.emit("hit", { key, tier: this.tiers[level]!.name, level, absent });
    return absent ? null : value;
  }

  /**
   * The slow half of `getOrLoad`, for callers that already tried `peek()`: walks the lower
   * tiers, then the loader, with one load per key however many callers wait for it.
   */
  load(key: string, loader: Loader, options?: LoadOptions): Promise<Uint8Array | undefined> {
    if (this.closed) return Promise.reject(closedError());
    try {
      assertKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    let flight = this.flights.get(key);
    if (flight) this.counters.joins++;
    else {
      const created: Flight = { stale: false, promise: undefined as never };
      created.promise = this.lookupThenLoad(key, loader, options?.kind ?? "other", created).finally(() => {
        if (this.flights.get(key) === created) this.flights.delete(key);
      });
      this.flights.set(key, created);
      flight = created;
    }
    return waitWithSignal(flight.promise, options?.signal);
  }

  private async lookupThenLoad(key: string, loader: Loader, kind: KeyKind, flight: Flight): Promise<Uint8Array | undefined> {
    const found = await this.lookup(key, this.l1 ? 1 : 0, flight);
    if (found !== undefined) return found.value.byteLength === 0 ? undefined : found.value;

    this.counters.misses++;
    if (this.events.has("miss")) this.events.emit("miss", { key });
    const started = Date.now();
    let value: Uint8Array | undefined;
    try {
      this.counters.loads++;
      value = await loader();
    } catch (error) {
      this.counters.loadErrors++;
      throw error;
    }
    if (value !== undefined && !(value instanceof Uint8Array)) {
      throw new ZarrsCacheError("UPSTREAM_ERROR", `the loader for ${key} returned ${typeof value}, not a Uint8Array or undefined`);
    }
    if (this.events.has("load")) {
      this.events.emit("load", { key, bytes: value?.byteLength ?? 0, absent: value === undefined, ms: Date.now() - started });
    }
    if (!flight.stale && !this.closed) {
      if (value === undefined) {
        if (this.negativeCaching) this.fill(key, ABSENT, this.ttl.absent, this.tiers.length);
      } else if (value.byteLength > 0) {
        // A real empty value is never cached: an empty entry means "absent".
        this.fill(key, value, this.ttl[kind], this.tiers.length);
      }
    }
    return value;
  }

  /** Looks in tiers[from..]; on a hit fills the tiers above it (unless the flight went stale). */
  private async lookup(key: string, from: number, flight?: Flight): Promise<CacheEntry | undefined> {
    // Without a flight nobody will load on a miss: tell the tiers so (see TierGetOptions.load).
    const options = flight === undefined ? NO_LOAD : undefined;
    for (let level = from; level < this.tiers.length; level++) {
      const tier = this.tiers[level]!;
      let entry: CacheEntry | undefined;
      try {
        entry = await tier.get(key, options);
      } catch (error) {
        this.levelMisses[level]!++;
        this.reportError("get", tier, key, error);
        continue;
      }
      const ttl = remainingTtl(entry?.expiresAt);
      if (entry === undefined || ttl === 0) {
        this.levelMisses[level]!++;
        continue;
      }
      if (level > 0 && !flight?.stale) {
        this.counters.backfills++;
        if (this.events.has("backfill")) this.events.emit("backfill", { key, level });
        this.fill(key, entry.value, ttl, level);
      }
      this.countHit(key, level, entry.value);
      return entry;
    }
    return undefined;
  }

  /**
   * Writes `value` into tiers[0..upTo) without making the caller wait. L1 is written now, so the
   * next read finds it; lower tiers are deferred to the next macrotask when L1 holds the value
   * meanwhile (a synchronous SQLite write then overlaps the reader's next wait instead of
   * delaying it), and started at once otherwise. None is awaited.
   */
  private fill(key: string, value: Uint8Array, ttl: number | undefined, upTo: number): void {
    const options = ttl === undefined ? FILL : { ttl, fill: true };
    for (let level = 0; level < upTo; level++) {
      if (level === 0 || this.l1 === undefined) this.writes.start(this.tiers[level]!, key, value, options);
      else this.writes.defer(this.tiers[level]!, key, value, options);
    }
    this.counters.sets++;
    if (this.events.has("set")) this.events.emit("set", { key, bytes: value.byteLength });
  }

  // ─── writes ───────────────────────────────────────────────────────────────────

  /**
   * Writes through to the store with `writer`, then updates the cache by the write policy.
   * If `writer` throws, the cache is left exactly as it was and the error propagates.
   */
  async write(key: string, value: Uint8Array, writer: () => Promise<void> | void, options?: { kind?: KeyKind }): Promise<void> {
    this.assertOpen();
    assertKey(key);
    assertValue(value);
    this.markStale((k) => k === key);
    await writer();
    this.markStale((k) => k === key);
    if (this.writePolicy === "write-around" || value.byteLength === 0) {
      await this.delete(key);
      return;
    }
    await this.setEverywhere(key, value, this.ttl[options?.kind ?? "other"]);
  }

  private async setEverywhere(key: string, value: Uint8Array, ttl: number | undefined): Promise<void> {
    const options = ttl === undefined ? undefined : { ttl };
    await Promise.all(
      this.tiers.map(async (tier) => {
        try {
          await tier.set(key, value, options);
        } catch (error) {
          // The tier may still hold the old value: drop it rather than serve stale bytes.
          this.reportError("set", tier, key, error);
          await tier.delete(key).catch((e: unknown) => this.reportError("delete", tier, key, e));
        }
      }),
    );
    this.counters.sets++;
    if (this.events.has("set")) this.events.emit("set", { key, bytes: value.byteLength });
  }

  /**
   * Removes every key starting with `prefix` from every tier (also loads in flight for them).
   * Returns the most entries removed from any one tier (tiers mostly hold the same keys).
   */
  async invalidate(prefix: string): Promise<number> {
    this.assertOpen();
    if (typeof prefix !== "string") throw new ZarrsCacheError("INVALID_ARGUMENT", "invalidate(prefix) needs a string prefix");
    this.markStale((k) => k.startsWith(prefix));
    await this.writes.flush();
    let removed = 0;
    for (const tier of this.tiers) removed = Math.max(removed, await this.deletePrefixIn(tier, prefix));
    if (this.events.has("invalidate")) this.events.emit("invalidate", { prefix, remote: false });
    return removed;
  }

  private async deletePrefixIn(tier: CacheTier, prefix: string): Promise<number> {
    try {
      if (prefix === "") {
        await tier.clear();
        return 0;
      }
      if (tier.deletePrefix) return await tier.deletePrefix(prefix);
      const keys: string[] = [];
      for await (const key of tier.keys(prefix)) keys.push(key);
      let removed = 0;
      for (const key of keys) if (await tier.delete(key)) removed++;
      return removed;
    } catch (error) {
      this.reportError("invalidate", tier, prefix, error);
      return 0;
    }
  }

  private onRemoteInvalidation(level: number, message: TierInvalidation): void {
    if (this.closed) return;
    const upper = this.tiers.slice(0, level);
    if (message.kind === "keys") {
      const keys = new Set(message.keys);
      this.markStale((k) => keys.has(k));
      for (const tier of upper) for (const key of keys) void tier.delete(key).catch((e: unknown) => this.reportError("delete", tier, key, e));
    } else {
      const prefix = message.kind === "prefix" ? message.prefix : "";
      this.markStale((k) => k.startsWith(prefix));
      for (const tier of upper) void this.deletePrefixIn(tier, prefix);
      if (this.events.has("invalidate")) this.events.emit("invalidate", { prefix, remote: true });
    }
  }

  /** Keeps loads in flight and queued fills of matching keys from caching what is now old. */
  private markStale(matches: (key: string) => boolean): void {
    for (const [key, flight] of this.flights) if (matches(key)) flight.stale = true;
    this.writes.cancel(matches);
  }

  // ─── prefetch (used by plugins) ──────────────────────────────────────────────

  /** Lets `prefetch` load keys under `prefix` from upstream (the zarrita adapter registers itself). */
  registerLoader(prefix: string, load: (key: string) => Promise<Uint8Array | undefined>): () => void {
    const entry = { prefix, load };
    this.loaders.push(entry);
    this.loaders.sort((a, b) => b.prefix.length - a.prefix.length);
    return () => {
      const i = this.loaders.indexOf(entry);
      if (i !== -1) this.loaders.splice(i, 1);
    };
  }

  /** Brings keys into the cache ahead of use. Keys no registered loader knows are only looked up. Never throws. */
  async prefetch(keys: readonly string[], options?: { kind?: KeyKind }): Promise<void> {
    if (this.closed) return;
    let wanted = [...new Set(keys)].filter((key) => typeof key === "string" && key !== "" && this.peek(key) === undefined);
    // Tiers that can answer many keys in one round trip (Redis MGET) are asked in batches first.
    for (let level = this.l1 ? 1 : 0; level < this.tiers.length && wanted.length > 0; level++) {
      const tier = this.tiers[level]!;
      if (!tier.getMany) continue;
      let entries: (CacheEntry | undefined)[];
      try {
        entries = await tier.getMany(wanted);
      } catch (error) {
        this.reportError("prefetch", tier, undefined, error);
        continue;
      }
      const missing: string[] = [];
      wanted.forEach((key, i) => {
        const entry = entries[i];
        const ttl = remainingTtl(entry?.expiresAt);
        if (entry === undefined || ttl === 0 || this.flights.has(key)) missing.push(key);
        else if (level > 0) this.fill(key, entry.value, ttl, level);
      });
      wanted = missing;
    }
    await Promise.all(
      wanted.map(async (key) => {
        const source = this.loaders.find((l) => key.startsWith(l.prefix));
        try {
          if (source) await this.getOrLoad(key, () => source.load(key), options);
          else await this.get(key);
        } catch (error) {
          this.reportError("prefetch", undefined, key, error);
        }
      }),
    );
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
      const entry = this.l1Lookup(this.l1, key);
      if (entry) {
        this.countHit(key, 0, entry.value);
        return entry;
      }
      this.levelMisses[0]!++;
    }
    const entry = await this.lookup(key, this.l1 ? 1 : 0);
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
    this.markStale((k) => k === key);
    await this.setEverywhere(key, value, options?.ttl);
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    this.markStale((k) => k === key);
    await this.writes.flush();
    const results = await Promise.all(
      this.tiers.map((tier) =>
        tier.delete(key).catch((error: unknown) => {
          this.reportError("delete", tier, key, error);
          return false;
        }),
      ),
    );
    this.counters.deletes++;
    if (this.events.has("delete")) this.events.emit("delete", { key });
    return results.some(Boolean);
  }

  async deletePrefix(prefix: string): Promise<number> {
    return this.invalidate(prefix);
  }

  async has(key: string): Promise<boolean> {
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

  /** Aggregate counters: `hits` at any level, `misses` that reached the loader (or nothing). */
  stats(): TierStats {
    const l1 = this.tiers[0]!.stats();
    return {
      hits: this.levelHits.reduce((a, b) => a + b, 0),
      ...this.counters,
      entries: l1.entries,
      bytes: this.tiers.reduce<number | undefined>((sum, t) => {
        const b = t.stats().bytes;
        return sum === undefined || b === undefined ? undefined : sum + b;
      }, 0),
      pendingWrites: this.writes.size,
      droppedWrites: this.writes.dropped,
    };
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

  /** Flushes pending writes, stops plugins, then closes every tier. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Loads in flight still answer their callers, but cache nothing once closed: waiting for
    // them would let one hung upstream request hang close().
    for (const flight of this.flights.values()) flight.stale = true;
    await this.writes.flush();
    this.closed = true;
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

function closedError(): ZarrsCacheError {
  return new ZarrsCacheError("CLOSED", "the cache is closed");
}
