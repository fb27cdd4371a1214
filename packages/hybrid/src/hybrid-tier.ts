import {
  type CacheEntry,
  type CacheTier,
  type EvictionListener,
  EvictionListeners,
  type EvictionReason,
  Listeners,
  OpenState,
  type SetOptions,
  type TierGetOptions,
  type TierInvalidation,
  ZarrsCacheError,
  assertKey,
  assertPrefix,
  assertSetArguments,
  deletePrefixOf,
  isZarrsCacheError,
  remainingTtl,
} from "@zarrs-cache/core";
import { AccessRates } from "./access-rate.js";
import { openDiskLevel } from "./disk-level.js";
import { FrequencySketch } from "./frequency-sketch.js";
import { HotSet } from "./hot-set.js";
import { type HybridOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { StaleGuard, type Ticket } from "./stale-guard.js";
import type { HybridStats, MaintenanceReport } from "./stats.js";

/** Below this share of the memory budget, candidates are admitted without a frequency contest (warm-up). */
const UNCONTESTED_SHARE = 15 / 16;

/** Entry size assumed when sizing the frequency sketch from `memory.maxBytes`. */
const ESTIMATED_ENTRY_BYTES = 16 * 1024;

/**
 * One tier over two levels: every value is written through to the disk level (the durable
 * store); the memory level holds copies of the hot set. An entry enters memory on `set` when
 * it fits or wins admission, or on a disk hit once its access rate reaches
 * `promotionThreshold`; it leaves memory when idle for `demotionAfter` or when displaced by a
 * more frequent entry. When memory is full a candidate is admitted only if its estimated
 * frequency (TinyLFU sketch) beats that of every entry it would displace, so a long one-off
 * scan cannot flush the hot set.
 */
export class HybridTier implements CacheTier {
  readonly name: string;
  /**
   * Synchronous lookup over both levels. Present only when the disk level has `getSync`: a
   * memory-only `getSync` would hide the disk level from a TieredCache, which goes straight to
   * its next tier after an L1 `getSync` miss.
   */
  readonly getSync?: (key: string) => CacheEntry | undefined;

  private readonly config: ResolvedOptions;
  private readonly hot: HotSet;
  private readonly lower: CacheTier;
  private readonly sketch: FrequencySketch;
  private readonly rates: AccessRates;
  private readonly guard = new StaleGuard();
  /** Entries just displaced from memory, still served until the disk level surely has them. */
  private readonly demoting = new Map<string, CacheEntry>();
  private readonly background = new Set<Promise<void>>();
  private readonly evictions = new EvictionListeners();
  private readonly unsubscribeLower: (() => void) | undefined;
  private readonly invalidations = new Listeners<[message: TierInvalidation]>();
  private readonly unsubscribeChanges: (() => void) | undefined;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private maintenance: Promise<MaintenanceReport> | undefined;
  private readonly counters = {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    errors: 0,
    memoryHits: 0,
    diskHits: 0,
    promotions: 0,
    demotions: 0,
    idleDemotions: 0,
    admissions: 0,
    admissionsRefused: 0,
    writeBacks: 0,
    expiredReclaimed: 0,
  };
  private readonly state: OpenState;

  constructor(options: HybridOptions) {
    this.config = resolveOptions(options);
    this.name = this.config.name;
    this.state = new OpenState(`the hybrid tier "${this.name}"`);
    this.hot = new HotSet(this.config.memory);
    const capacity = Math.min(1 << 20, Math.max(256, Math.ceil(this.config.memory.maxBytes / ESTIMATED_ENTRY_BYTES)));
    this.sketch = new FrequencySketch(capacity);
    this.rates = new AccessRates(Math.max(1024, 2 * capacity));
    this.lower = options.diskTier ?? openDiskLevel(options.disk!);
    if (typeof this.lower.getSync === "function") this.getSync = (key) => this.lookupSync(key);
    this.unsubscribeLower = this.lower.onEviction?.((key, reason) => this.onLowerEviction(key, reason));
    // Other processes' changes of the shared disk level: memory drops its copies, and the tiers above hear of them too.
    this.unsubscribeChanges = this.lower.onInvalidation?.((message) => this.onLowerInvalidation(message));
    if (this.config.maintenanceInterval > 0) {
      this.timer = setInterval(() => {
        if (!this.state.closed) this.maintain().catch(() => this.counters.errors++);
      }, this.config.maintenanceInterval);
      // Maintenance must never keep a process alive.
      this.timer.unref?.();
    }
  }

  /** Opens the disk level now (build() calls this), so a bad `disk.dir` fails early. */
  open(): void {
    this.assertOpen();
    try {
      this.lower.open?.();
    } catch (error) {
      if (isZarrsCacheError(error, "INVALID_CONFIG")) {
        throw new ZarrsCacheError("INVALID_CONFIG", `hybrid(): option "disk": ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  // ─── reads ───────────────────────────────────────────────────────────────────

  async get(key: string, options?: TierGetOptions): Promise<CacheEntry | undefined> {
    this.assertOpen();
    assertKey(key);
    const now = this.config.now();
    const hit = this.lookupMemory(key, now);
    if (hit !== undefined) return hit;
    const ticket = this.guard.begin(key);
    let entry: CacheEntry | undefined;
    try {
      entry = await (options === undefined ? this.lower.get(key) : this.lower.get(key, options));
    } catch (error) {
      this.counters.errors++;
      throw error;
    } finally {
      this.guard.end(ticket);
    }
    return this.afterDiskLookup(key, entry, now, ticket);
  }

  private lookupSync(key: string): CacheEntry | undefined {
    this.assertOpen();
    assertKey(key);
    const now = this.config.now();
    const hit = this.lookupMemory(key, now);
    if (hit !== undefined) return hit;
    let entry: CacheEntry | undefined;
    try {
      entry = this.lower.getSync!(key);
    } catch (error) {
      this.counters.errors++;
      throw error;
    }
    return this.afterDiskLookup(key, entry, now, undefined);
  }

  private lookupMemory(key: string, now: number): CacheEntry | undefined {
    this.sketch.increment(key);
    let entry = this.hot.get(key, now);
    if (entry === undefined) {
      const leaving = this.demoting.get(key);
      if (leaving !== undefined && remainingTtl(leaving.expiresAt) !== 0) entry = leaving;
    }
    if (entry === undefined) return undefined;
    this.counters.memoryHits++;
    this.counters.hits++;
    return entry;
  }

  private afterDiskLookup(key: string, entry: CacheEntry | undefined, now: number, ticket: Ticket | undefined): CacheEntry | undefined {
    if (entry === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.diskHits++;
    this.counters.hits++;
    const rate = this.rates.touch(key, now);
    // A write or delete that started meanwhile owns the memory copy now.
    if (rate >= this.config.promotionThreshold && !ticket?.stale && !this.state.closed && !this.hot.has(key)) {
      if (this.admit(key, entry, now)) {
        this.counters.promotions++;
        this.rates.forget(key);
      }
    }
    return entry;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    if (this.hot.contains(key) || this.isDemotingLive(key)) return true;
    return this.lower.has(key);
  }

  async *keys(prefix = ""): AsyncIterable<string> {
    this.assertOpen();
    const seen = new Set<string>();
    for await (const key of this.lower.keys(prefix)) {
      seen.add(key);
      yield key;
    }
    // Normally a subset of the disk's keys; not when the disk level evicted a hot entry.
    const leaving = [...this.demoting.keys()].filter((key) => this.isDemotingLive(key));
    for (const key of [...this.hot.keys(prefix), ...leaving]) {
      if (!seen.has(key) && key.startsWith(prefix)) {
        seen.add(key);
        yield key;
      }
    }
  }

  /** An entry on its way down that is still served (not expired). */
  private isDemotingLive(key: string): boolean {
    const leaving = this.demoting.get(key);
    return leaving !== undefined && remainingTtl(leaving.expiresAt) !== 0;
  }

  /** The disk level's value limit, when it states one (see CacheTier.maxValueBytes). */
  get maxValueBytes(): number | undefined {
    return this.lower.maxValueBytes;
  }

  // ─── writes ──────────────────────────────────────────────────────────────────

  /**
   * Writes through to the disk level, then updates memory: the new value replaces the old
   * memory copy only if it fits or wins admission. If the disk level refuses the value, both
   * levels keep what they had.
   */
  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.assertOpen();
    assertSetArguments(key, value, options);
    const ttl = options?.ttl ?? this.config.ttl;
    let expiresAt = ttl === undefined ? undefined : Date.now() + ttl;
    this.guard.invalidate(key);
    const ticket = this.guard.begin(key);
    try {
      // Fields this tier does not use (fill, loadStartedAt…) go on to the disk level; `transfer` does
      // not: memory may keep the same buffer.
      await this.lower.set(key, value, lowerOptions(options, ttl));
    } catch (error) {
      this.guard.end(ticket);
      if (!isZarrsCacheError(error, "VALUE_TOO_LARGE")) {
        // The disk level may hold either value now: do not keep serving the old one from memory.
        this.counters.errors++;
        this.dropFromMemory(key);
      }
      throw error;
    }
    this.counters.sets++;
    this.dropFromMemory(key);
    let admissible = this.hot.fits(key, value) && !ticket.stale && !this.state.closed;
    try {
      // A `diskTier` may apply a default TTL the hybrid cannot know: take the expiry it actually gave.
      // A fill the disk level refused (a newer value of another process is there, or a tombstone):
      // memory takes what the disk level holds, never the refused bytes.
      if (admissible && (options?.fill === true || (ttl === undefined && !this.config.lowerExpiryKnown))) {
        const written = await this.readBack(key);
        admissible = written !== undefined;
        expiresAt = written?.expiresAt;
        if (written !== undefined && options?.fill === true) value = written.value;
      }
    } catch {
      // The write succeeded; only the memory copy is skipped.
      this.counters.errors++;
      admissible = false;
    } finally {
      this.guard.end(ticket);
    }
    // A newer write or delete of this key started while this one ran: it decides what memory holds.
    if (!admissible || ticket.stale || this.state.closed) return;
    if (this.admit(key, { value, expiresAt }, this.config.now())) this.counters.admissions++;
  }

  /** The lower level's entry for a key just written (synchronously when it can). */
  private async readBack(key: string): Promise<CacheEntry | undefined> {
    return this.lower.getSync ? this.lower.getSync(key) : await this.lower.get(key);
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    this.guard.invalidate(key);
    const inMemory = this.dropFromMemory(key);
    this.rates.forget(key);
    let onDisk: boolean;
    try {
      onDisk = await this.lower.delete(key);
    } catch (error) {
      this.counters.errors++;
      throw error;
    }
    const removed = inMemory || onDisk;
    if (removed) this.counters.deletes++;
    return removed;
  }

  /** Removes every key starting with `prefix` from both levels; returns the larger of the two levels' counts. */
  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    assertPrefix(prefix);
    const matches = (key: string) => key.startsWith(prefix);
    this.guard.invalidateWhere(matches);
    const fromMemory = this.hot.removePrefix(prefix);
    for (const key of [...this.demoting.keys()]) if (matches(key)) this.demoting.delete(key);
    this.rates.forgetWhere(matches);
    let fromDisk = 0;
    try {
      fromDisk = await deletePrefixOf(this.lower, prefix);
    } catch (error) {
      this.counters.errors++;
      throw error;
    }
    const removed = Math.max(fromDisk, fromMemory.length);
    this.counters.deletes += removed;
    return removed;
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.guard.invalidateWhere(() => true);
    this.demoting.clear();
    this.rates.clear();
    this.sketch.reset();
    await this.hot.clear();
    await this.lower.clear();
  }

  // ─── promotion, admission, demotion ──────────────────────────────────────────

  /**
   * Puts an entry into memory: freely while memory is less than 15/16 full; past that only if
   * its estimated frequency beats that of every victim it would displace (those are demoted),
   * or of the next victim when it fits without displacing anything.
   */
  private admit(key: string, entry: CacheEntry, now: number): boolean {
    if (!this.hot.fits(key, entry.value) || remainingTtl(entry.expiresAt) === 0) return false;
    const size = this.hot.sizeOf(key, entry.value);
    if (this.hot.bytes + size <= this.hot.maxBytes * UNCONTESTED_SHARE) return this.hot.insert(key, entry, now);
    const victims = this.hot.victimsFor(size);
    if (victims === undefined) {
      this.counters.admissionsRefused++;
      return false;
    }
    // Even a candidate that fits the leftover space must beat the next victim: otherwise the gaps
    // that multi-entry evictions leave would let one-off keys in without a contest.
    const rivals = victims.length > 0 ? victims : (this.hot.victimsFor(this.hot.freeBytes + 1) ?? []);
    const frequency = this.sketch.estimate(key);
    if (rivals.some((rival) => this.sketch.estimate(rival) >= frequency)) {
      this.counters.admissionsRefused++;
      return false;
    }
    for (const victim of victims) this.demote(victim);
    return this.hot.insert(key, entry, now);
  }

  /**
   * Moves a memory entry down. The disk level normally has it already (writes go through), but
   * it may have evicted it meanwhile, since memory hits never touch the disk: then it is written
   * back. Until that finishes the entry is still served from `demoting`.
   */
  private demote(key: string): Promise<void> | undefined {
    const entry = this.hot.remove(key);
    this.counters.demotions++;
    if (entry === undefined) return undefined;
    this.demoting.set(key, entry);
    const done = this.writeBack(key, entry);
    this.background.add(done);
    void done.finally(() => this.background.delete(done));
    return done;
  }

  private async writeBack(key: string, entry: CacheEntry): Promise<void> {
    try {
      if (await this.lower.has(key)) return;
      // A set or delete of the key since the demotion supersedes this copy.
      if (this.demoting.get(key) !== entry) return;
      const ttl = remainingTtl(entry.expiresAt);
      if (ttl === 0) return;
      await this.lower.set(key, entry.value, ttl === undefined ? undefined : { ttl });
      this.counters.writeBacks++;
    } catch {
      this.counters.errors++;
    } finally {
      if (this.demoting.get(key) === entry) this.demoting.delete(key);
    }
  }

  private dropFromMemory(key: string): boolean {
    const leaving = this.demoting.delete(key);
    return this.hot.remove(key) !== undefined || leaving;
  }

  /**
   * One maintenance pass (the timer runs it every `maintenanceInterval`): demotes memory entries
   * idle for `demotionAfter`, drops expired ones, forgets access rates that decayed to nothing.
   * Resolves once the demoted entries are safely on the disk level.
   */
  maintain(): Promise<MaintenanceReport> {
    if (this.state.closed) return Promise.reject(this.state.error());
    if (this.maintenance === undefined) {
      this.maintenance = this.runMaintenance().finally(() => (this.maintenance = undefined));
    }
    return this.maintenance;
  }

  private async runMaintenance(): Promise<MaintenanceReport> {
    const now = this.config.now();
    const expired = this.hot.reclaimExpired();
    this.counters.expiredReclaimed += expired;
    const writes: Promise<void>[] = [];
    const idle = this.hot.idleSince(now - this.config.demotionAfter);
    for (const key of idle) {
      const done = this.demote(key);
      if (done) writes.push(done);
    }
    this.counters.idleDemotions += idle.length;
    this.rates.prune(now);
    await Promise.all(writes);
    return { demoted: idle.length, expired };
  }

  /** Entries the tier dropped on its own: those the disk level evicted or expired, unless memory still holds them. */
  onEviction(listener: EvictionListener): () => void {
    return this.evictions.add(listener);
  }

  private onLowerEviction(key: string, reason: EvictionReason): void {
    // Still in memory: not lost, and a demotion writes it back to the disk level.
    if (reason === "evict" && (this.hot.has(key) || this.demoting.has(key))) return;
    this.evictions.emit(key, reason);
  }

  /** Other processes' writes, deletes and clears of the disk level (see the disk tier's `onInvalidation`). */
  onInvalidation(listener: (message: TierInvalidation) => void): () => void {
    return this.invalidations.add(listener);
  }

  /** A load that followed a disk-level miss filled nothing: the disk level releases what it took for it. */
  loadSettled(key: string, outcome: "failed" | "aborted" | "uncached"): void {
    this.lower.loadSettled?.(key, outcome);
  }

  private onLowerInvalidation(message: TierInvalidation): void {
    if (this.state.closed) return;
    if (message.kind === "keys") {
      for (const key of message.keys) {
        this.guard.invalidate(key);
        this.dropFromMemory(key);
      }
    } else {
      const prefix = message.kind === "prefix" ? message.prefix : "";
      const matches = (key: string) => key.startsWith(prefix);
      this.guard.invalidateWhere(matches);
      this.hot.removePrefix(prefix);
      for (const key of [...this.demoting.keys()]) if (matches(key)) this.demoting.delete(key);
    }
    this.invalidations.emit(message);
  }

  // ─── stats and lifecycle ─────────────────────────────────────────────────────

  /**
   * Counters of both levels. `entries` is the disk level's count (it holds every entry);
   * `bytes` adds both levels. `evictions` are entries the disk level dropped (really gone);
   * entries leaving memory are counted as `demotions`.
   */
  stats(): HybridStats {
    const disk = this.lower.stats();
    const c = this.counters;
    const lookups = c.hits + c.misses;
    return {
      ...c,
      evictions: disk.evictions,
      entries: disk.entries,
      bytes: disk.bytes === undefined ? undefined : disk.bytes + this.hot.bytes,
      memoryHitRate: lookups === 0 ? 0 : c.memoryHits / lookups,
      diskHitRate: lookups - c.memoryHits === 0 ? 0 : c.diskHits / (lookups - c.memoryHits),
      memoryEntries: this.hot.size,
      memoryBytes: this.hot.bytes,
      memoryMaxBytes: this.hot.maxBytes,
      diskEntries: disk.entries,
      diskBytes: disk.bytes,
      trackedRates: this.rates.size,
      sketchAgings: this.sketch.agings,
    };
  }

  /** Stops maintenance, waits for demotions in flight, then closes both levels. Idempotent. */
  async close(): Promise<void> {
    if (!this.state.markClosed()) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.unsubscribeLower?.();
    this.evictions.clear();
    this.unsubscribeChanges?.();
    this.invalidations.clear();
    await this.maintenance?.catch(() => undefined);
    await Promise.allSettled([...this.background]);
    this.demoting.clear();
    await this.hot.close();
    await this.lower.close();
  }

  private assertOpen(): void {
    this.state.assertOpen();
  }
}

/**
 * A memory+disk tier that keeps the hot set in memory and everything on disk:
 * `hybrid({ memory: { maxBytes: 256 * MiB }, disk: { dir: ".zarr-cache", maxBytes: 10 * GiB } })`.
 */
export function hybrid(options: HybridOptions): HybridTier {
  return new HybridTier(options);
}

/** The options for the disk level: the caller's, with the TTL in force and without `transfer`. */
function lowerOptions(options: SetOptions | undefined, ttl: number | undefined): SetOptions | undefined {
  if (options === undefined) return ttl === undefined ? undefined : { ttl };
  const { transfer: _transfer, ...rest } = options;
  return ttl === undefined ? rest : { ...rest, ttl };
}
