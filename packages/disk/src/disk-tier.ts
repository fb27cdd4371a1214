import { randomUUID } from "node:crypto";
import {
  type CacheEntry,
  type CacheTier,
  type HoldScope,
  type SetOptions,
  type TierGetOptions,
  type TierInvalidation,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertSetOptions,
  assertValue,
} from "@zarrs-cache/core";
import { BlobStore } from "./blob-store.js";
import { ChangeFeed, ChangeKind } from "./change-feed.js";
import { Leases } from "./lease.js";
import { entryChecksum } from "./integrity.js";
import { decodeKey, encodeKey, prefixRange } from "./keys.js";
import { type DiskOptions, type ResolvedDiskOptions, entrySize, resolveOptions } from "./options.js";
import { type DropReason, SWEEP_BATCH, collectBlob, effectiveLimit, makeRoom } from "./space.js";
import type { Row, Statements } from "./statements.js";
import { TierStore } from "./tier-store.js";

const KEYS_PAGE = 1000;
const EMPTY = new Uint8Array(0);

/** The tier's stats: the counters are this process's; `entries` and `bytes` are the directory's. */
export interface DiskStats extends TierStats {
  /** Expired entries reclaimed (deleted) by this process. */
  expired: number;
  /** Entries that failed their integrity check (or SQLite reported damaged) and were dropped. */
  corruptions: number;
  /** Times a damaged database was deleted and created anew. */
  rebuilds: number;
  /** Times the database was reopened (its file was deleted or replaced, or damage was found). */
  reopens: number;
  /** Value files no entry referred to (left by a crash) that were removed. */
  orphans: number;
  /** Times the directory's totals disagreed with its entries (or were implausible) and were recounted. */
  totalsRepaired: number;
  /** Times the file system refused a write for lack of space (each lowered the bound in force). */
  diskFull: number;
  /** Read-through fills not stored: a live entry was there, a hold, or a tombstone (or the window) said the load was too old. */
  fillsRefused: number;
  /** Holds this process placed or renewed (see `hold`). */
  holds: number;
  /** This tier's own `maxBytes` option. */
  maxBytes: number;
  /** The directory's shared bound: the smallest `maxBytes` among the processes using it. */
  sharedMaxBytes: number;
  /** The bound enforced now: the shared bound, lowered further while the file system is short of space. */
  effectiveMaxBytes: number;
  /** Single-flight: leases this process took; misses that waited for another process; waits answered by its value. */
  leasesTaken: number;
  leaseWaits: number;
  leaseWaitHits: number;
  /** Single-flight: leases taken over (released without a value, owner gone, expired); waits that ran out. */
  leaseTakeovers: number;
  leaseTimeouts: number;
  /** Single-flight: leases released early because their load filled nothing. */
  leasesAbandoned: number;
  /** Single-flight: leases held now. */
  leasesHeld: number;
  /** Coherence: invalidations of other processes reported to the tiers above. */
  remoteInvalidations: number;
  /** Coherence: times the change log could not be followed and everything above was dropped. */
  feedResyncs: number;
}

/**
 * A persistent tier: one SQLite database (WAL mode) in `dir` holds the index and small values;
 * large values live in files named by random ids. Keys are column values, never file names.
 * Every entry carries a checksum verified on each read. The byte total lives in the database
 * (kept by triggers), so `maxBytes` holds for the directory across processes and restarts.
 * Reads are synchronous underneath (`getSync`); the async methods wrap them.
 */
export class DiskTier implements CacheTier {
  readonly name: string;
  private readonly config: ResolvedDiskOptions;
  private readonly store: TierStore;
  /** Names this instance's holds in the directory: it releases only its own. */
  private readonly holder = randomUUID();
  /** Other processes' changes, read from the change log (coherence and single-flight wake-ups). */
  private readonly feed: ChangeFeed;
  private readonly leases: Leases | undefined;

  constructor(options: DiskOptions) {
    this.config = resolveOptions(options);
    this.name = this.config.name;
    this.store = new TierStore(this.config);
    const origin = this.store.openerId;
    this.feed = new ChangeFeed(this.store, origin, this.config.coherence?.interval ?? 0, this.store.counters, (batch) =>
      this.leases?.wake(batch),
    );
    const flight = this.config.singleFlight;
    if (flight !== undefined) {
      const read = (encoded: Buffer) => this.lookup(this.store.readStatements(), encoded);
      this.leases = new Leases(this.store, flight, origin, this.store.counters, this.feed, read);
    }
  }

  /** The largest value `set` accepts, in bytes (the `maxValueBytes` option, at most `maxBytes`). */
  get maxValueBytes(): number {
    return this.config.maxValueBytes;
  }

  /** Opens the database now (build() calls this): a bad or unwritable `dir` throws INVALID_CONFIG naming it. */
  open(): void {
    this.store.statements();
    this.feed.start();
  }

  // ─── reads ───────────────────────────────────────────────────────────────────

  getSync(key: string): CacheEntry | undefined {
    const sql = this.store.readStatements();
    assertKey(key, this.config.maxKeyLength);
    return this.counted(key, this.lookup(sql, encodeKey(key)));
  }

  /**
   * With `load: true` (the TieredCache's loads) a miss takes part in the cross-process
   * single-flight: it waits for the value when another process is loading the key, and otherwise
   * takes the lease for its caller's load (released by the fill or by `loadSettled`).
   */
  async get(key: string, options?: TierGetOptions): Promise<CacheEntry | undefined> {
    const sql = this.store.readStatements();
    assertKey(key, this.config.maxKeyLength);
    const encoded = encodeKey(key);
    let entry = this.lookup(sql, encoded);
    if (entry === undefined && options?.load === true && this.leases !== undefined) entry = await this.leases.afterMiss(key, encoded);
    return this.counted(key, entry);
  }

  private counted(key: string, entry: CacheEntry | undefined): CacheEntry | undefined {
    const counters = this.store.counters;
    if (entry === undefined) {
      counters.misses++;
      return undefined;
    }
    counters.hits++;
    this.store.touch(key);
    return entry;
  }

  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    return keys.map((key) => this.getSync(key));
  }

  /** Reads and verifies a key's entry; undefined when absent, expired or damaged (damage is dropped and counted). */
  private lookup(sql: Statements, encoded: Buffer): CacheEntry | undefined {
    let missingBlob: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const row = this.store.read(() => sql.read.get(encoded) as Row | undefined);
      if (row === undefined) return undefined;
      const [id, inline, sum, expiresAt, , size, blob] = row;
      if (expiresAt !== null && expiresAt <= Date.now()) return undefined; // reclaimed by a later sweep
      let value: Buffer = inline;
      if (blob !== null) {
        if (!BlobStore.isValidId(blob)) return this.store.dropCorrupt(id, sum);
        const fromFile = this.store.read(() => this.store.blobs.read(blob));
        if (fromFile === undefined) {
          // Missing file: another process may have replaced or evicted the entry since we read
          // its row (look again); if the row still names the same file, it was deleted behind our back.
          if (blob === missingBlob) return this.store.dropCorrupt(id, sum);
          missingBlob = blob;
          continue;
        }
        value = fromFile;
      }
      if (size !== entrySize(encoded.byteLength, value.byteLength, blob !== null) || entryChecksum(encoded, value, expiresAt) !== sum) {
        return this.store.dropCorrupt(id, sum);
      }
      return { value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength), expiresAt: expiresAt ?? undefined };
    }
    return undefined;
  }

  async has(key: string): Promise<boolean> {
    const sql = this.store.readStatements();
    assertKey(key, this.config.maxKeyLength);
    const row = this.store.read(() => sql.peekExpiry.get(encodeKey(key)) as [number | null] | undefined);
    return row !== undefined && (row[0] === null || row[0] > Date.now());
  }

  async *keys(prefix = ""): AsyncIterable<string> {
    if (typeof prefix !== "string") throw new ZarrsCacheError("INVALID_ARGUMENT", "keys(prefix) needs a string prefix");
    const { from, to } = prefixRange(prefix);
    // Pages by key, so no read transaction stays open while the caller consumes keys.
    let after: Buffer | undefined;
    for (;;) {
      const sql = this.store.statements();
      const now = Date.now();
      const page = this.store.read(() => {
        if (after === undefined) return to ? sql.keysAtLeastBelow.all(from, to, now, KEYS_PAGE) : sql.keysAtLeast.all(from, now, KEYS_PAGE);
        return to ? sql.keysAfterBelow.all(after, to, now, KEYS_PAGE) : sql.keysAfter.all(after, now, KEYS_PAGE);
      }) as Buffer[] | undefined;
      if (page === undefined) return;
      for (const blob of page) yield decodeKey(blob);
      if (page.length < KEYS_PAGE) return;
      after = page[page.length - 1];
    }
  }

  /** Counters of this process, plus `entries` and `bytes` of the whole directory (every process's entries). */
  stats(): DiskStats {
    const totals = this.store.totals();
    const own = this.config.maxBytes;
    return {
      ...this.store.counters,
      entries: totals?.[0],
      bytes: totals?.[1],
      leasesHeld: this.leases?.heldCount ?? 0,
      maxBytes: own,
      sharedMaxBytes: effectiveLimit(own, totals?.[2] ?? 0, 0),
      effectiveMaxBytes: effectiveLimit(own, totals?.[2] ?? 0, totals?.[3] ?? 0),
    };
  }

  /** Entries this process evicted (size bound, full disk) or reclaimed after expiry. Returns an unsubscribe. */
  onEviction(listener: (key: string, reason: DropReason) => void): () => void {
    if (typeof listener !== "function") throw new ZarrsCacheError("INVALID_ARGUMENT", "onEviction(listener) needs a function");
    return this.store.onEviction(listener);
  }

  /**
   * Writes, deletes, prefix deletes and clears that other processes (and other disk tiers of this
   * process) made in the directory, read from its change log every `coherence.interval` ms while
   * someone listens: a TieredCache drops those keys from its tiers above. Read-through fills are
   * not reported (they never replace a live value). `{ kind: "all" }` when the log could not be
   * followed (the file was recreated, or this process fell behind by more than `tombstoneTtl`).
   * Returns an unsubscribe; a no-op with `coherence: false`.
   */
  onInvalidation(listener: (message: TierInvalidation) => void): () => void {
    if (typeof listener !== "function") throw new ZarrsCacheError("INVALID_ARGUMENT", "onInvalidation(listener) needs a function");
    if (this.config.coherence === undefined) return () => undefined;
    // Subscribing opens nothing (a cache subscribes before build() opens the tier): the feed starts at open or its first poll.
    return this.feed.subscribe(listener);
  }

  /** The load that followed a `get(key, { load: true })` miss filled nothing: release its lease so waiters take over now. */
  loadSettled(key: string, _outcome: "failed" | "aborted" | "uncached"): void {
    if (this.leases === undefined || typeof key !== "string" || !this.leases.holds(key)) return;
    this.leases.abandon(key, encodeKey(key));
  }

  // ─── writes ──────────────────────────────────────────────────────────────────

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.setSync(key, value, options);
  }

  /** Synchronous set. Throws VALUE_TOO_LARGE (writing nothing) past the limits, IO_ERROR when the write fails. */
  setSync(key: string, value: Uint8Array, options?: SetOptions): void {
    this.store.statements();
    assertKey(key, this.config.maxKeyLength);
    const encoded = encodeKey(key);
    try {
      this.write(key, encoded, value, options);
    } finally {
      // A lease this set did not release (refused early, too large, failed): its waiters must not wait for it.
      if (this.leases?.holds(key)) this.leases.abandon(key, encoded);
    }
  }

  private write(key: string, encoded: Buffer, value: Uint8Array, options: SetOptions | undefined): void {
    assertValue(value);
    assertSetOptions(options);
    const inFile = value.byteLength >= this.config.fileThreshold;
    const size = entrySize(encoded.byteLength, value.byteLength, inFile);
    if (value.byteLength > this.config.maxValueBytes || size > this.config.maxBytes) {
      throw new ZarrsCacheError(
        "VALUE_TOO_LARGE",
        `disk tier "${this.name}": a value of ${value.byteLength} bytes does not fit (maxValueBytes ${this.config.maxValueBytes}, maxBytes ${this.config.maxBytes})`,
      );
    }
    const ttl = options?.ttl ?? this.config.ttl;
    const now = Date.now();
    const fill = options?.fill === true;
    const started = options?.loadStartedAt ?? now;
    // Too old to be checked against tombstones (they are pruned after tombstoneTtl); a large value is
    // checked before its file is written too (reads need no lock).
    const tooOld = fill && now - started > this.config.tombstoneTtl;
    if (tooOld || (fill && inFile && this.fillRefused(this.store.statements(), encoded, started, now))) {
      this.store.counters.fillsRefused++;
      return;
    }
    const expiresAt = ttl === undefined ? null : Math.ceil(now + ttl);
    const sum = entryChecksum(encoded, value, expiresAt);
    const store = this.store;
    // A large value's file is complete before any row points at it.
    let blob = inFile ? store.writeBlob(value) : null;
    let epoch = store.epoch;
    let stored = true;
    let released = false;
    try {
      store.write("set", (sql, removed) => {
        released = this.leases?.releaseIn(sql, key, encoded, now) ?? false;
        if (fill && this.fillRefused(sql, encoded, started, now)) {
          stored = false;
          return;
        }
        // Other processes drop their copies of a written key; a fill changes no live value.
        if (!fill) sql.logChange.run(store.openerId, ChangeKind.Key, encoded, now);
        if (blob !== null && store.epoch !== epoch) {
          // The directory was created anew since the file was written, and the file went with it.
          blob = store.blobs.write(value);
          epoch = store.epoch;
        }
        store.writeQueuedTouches(sql);
        // A fill already read the row (fillRefused): the file it names, if any, goes.
        collectBlob(removed, fill ? this.replacedBlob : sql.blobOf.get(encoded));
        sql.upsert.run(encoded, inFile ? EMPTY : value, size, sum, expiresAt, now, blob);
        makeRoom(sql, store.room(encoded, now, store.sweepDue(now) ? SWEEP_BATCH : 0, size), removed);
      });
    } catch (error) {
      if (blob !== null) this.store.blobs.remove([blob]);
      throw error;
    }
    if (released) this.leases!.settled(key);
    if (stored) {
      this.store.counters.sets++;
    } else {
      if (blob !== null) this.store.blobs.remove([blob]);
      this.store.counters.fillsRefused++;
    }
  }

  /** Set by fillRefused: the value file of the (expired) row a fill replaces. */
  private replacedBlob: string | null = null;

  /**
   * A conditional fill (SetOptions.loadStartedAt) must not land: a live entry is there (another
   * process's newer write or fill), or a tombstone of the key or of a prefix of it is not older
   * than the load. One lookup of the row (which a set does anyway) and one of the tombstones.
   */
  private fillRefused(sql: Statements, encoded: Buffer, started: number, now: number): boolean {
    const row = sql.entryState.get(encoded) as [number | null, string | null] | undefined;
    this.replacedBlob = row?.[1] ?? null;
    if (row !== undefined && (row[0] === null || row[0] > now)) return true;
    const at = sql.tombstoneAt.get(encoded, encoded) as number | null;
    if (at !== null && at >= started) return true;
    const until = sql.holdUntil.get(encoded, encoded) as number | null;
    return until !== null && until >= started;
  }

  // ─── holds ───────────────────────────────────────────────────────────────────

  /**
   * Until `until` (ms since the epoch) or `release`, refuses every fill of `scope` whose load
   * began before the hold ended, in every process using the directory. What the scope holds now
   * stays (the holder deletes what it must). Application writes, deletes and clears still work;
   * the hold outlives them. Each instance holds and releases its
   * own holds; a longer `until` extends a hold, a shorter one never shortens it. Holds end by
   * themselves at `until` (a holder that died); a rebuilt database (damage) starts without them.
   */
  async hold(scope: HoldScope, until: number): Promise<void> {
    this.store.statements();
    const target = holdTarget(scope, this.config.maxKeyLength);
    if (typeof until !== "number" || !Number.isFinite(until)) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `hold(scope, until): until must be a time in ms, got ${String(until)}`);
    }
    this.store.write("hold", (sql) => {
      // Ended longer ago than any fill may be old (tombstoneTtl): they refuse nothing any more.
      sql.pruneHolds.run(Date.now() - this.config.tombstoneTtl);
      sql.recordHold.run(target.isPrefix, target.from, this.holder, Math.ceil(until));
    });
    this.store.counters.holds++;
  }

  /** Ends this instance's hold of `scope` now; fills whose load began before now stay refused. */
  async release(scope: HoldScope): Promise<void> {
    this.store.statements();
    const target = holdTarget(scope, this.config.maxKeyLength);
    this.store.write("release", (sql) => {
      sql.releaseHold.run(Date.now(), target.isPrefix, target.from, this.holder);
    });
  }

  async delete(key: string): Promise<boolean> {
    this.store.statements();
    assertKey(key, this.config.maxKeyLength);
    const encoded = encodeKey(key);
    const live = () => {
      const row = this.store.statements().peekExpiry.get(encoded) as [number | null] | undefined;
      return row !== undefined && (row[0] === null || row[0] > Date.now());
    };
    const removed = this.store.write(
      "delete",
      (sql, dropped) => {
        // Even when nothing was there: a fill of an older value may be on its way, and other processes may hold copies.
        sql.recordTombstone.run(encoded, Date.now());
        sql.logChange.run(this.store.openerId, ChangeKind.Key, encoded, Date.now());
        const row = sql.deleteKey.get(encoded) as [number | null, string | null] | undefined;
        if (row === undefined) return false;
        collectBlob(dropped, row[1]);
        return row[0] === null || row[0] > Date.now();
      },
      { whenStillFull: live },
    );
    if (removed) this.store.counters.deletes++;
    return removed;
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.store.statements();
    if (typeof prefix !== "string") throw new ZarrsCacheError("INVALID_ARGUMENT", "deletePrefix(prefix) needs a string prefix");
    const { from, to } = prefixRange(prefix);
    const countLive = (sql: Statements) => {
      const now = Date.now();
      return (to ? sql.countLiveRange.get(from, to, now) : sql.countLiveFrom.get(from, now)) as number;
    };
    const removed = this.store.write(
      "deletePrefix",
      (sql, dropped) => {
        const live = countLive(sql);
        recordPrefixTombstone(sql, from, to, this.config.tombstoneTtl);
        sql.logChange.run(this.store.openerId, ChangeKind.Prefix, from, Date.now());
        for (const blob of (to ? sql.blobsInRange.all(from, to) : sql.blobsFrom.all(from)) as string[]) collectBlob(dropped, blob);
        if (to) sql.deleteRange.run(from, to);
        else sql.deleteFrom.run(from);
        return live;
      },
      { whenStillFull: () => countLive(this.store.statements()) },
    );
    this.store.counters.deletes += removed;
    return removed;
  }

  /** Removes every entry in the directory (those of other processes too: they share it). */
  async clear(): Promise<void> {
    this.store.statements();
    this.store.write(
      "clear",
      (sql, dropped) => {
        for (const blob of sql.allBlobs.all() as string[]) collectBlob(dropped, blob);
        sql.deleteAll.run();
        recordPrefixTombstone(sql, EMPTY_KEY, undefined, this.config.tombstoneTtl);
        sql.logChange.run(this.store.openerId, ChangeKind.Clear, EMPTY_KEY, Date.now());
      },
      { whenStillFull: () => undefined },
    );
    this.store.releaseFreePages(0);
  }

  /** Writes queued access times and closes the database. Idempotent. */
  async close(): Promise<void> {
    this.feed.close();
    this.leases?.close();
    this.store.close();
  }
}

const EMPTY_KEY = Buffer.alloc(0);

/** The rows a hold covers: one key, or the key range of a prefix. */
function holdTarget(scope: HoldScope, maxKeyLength: number): { isPrefix: 0 | 1; from: Buffer } {
  if (typeof scope !== "object" || scope === null || (typeof scope.key === "string") === (typeof scope.prefix === "string")) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", "hold/release(scope): scope must be { key: string } or { prefix: string }");
  }
  if (typeof scope.key === "string") {
    assertKey(scope.key, maxKeyLength);
    return { isPrefix: 0, from: encodeKey(scope.key) };
  }
  return { isPrefix: 1, from: encodeKey(scope.prefix!) };
}

/**
 * Records that every key in [from, to) changed now. Key tombstones in the range are superseded,
 * and prefix tombstones past the window are pruned here (the table stays small: a fill scans it).
 */
function recordPrefixTombstone(sql: Statements, from: Buffer, to: Buffer | undefined, window: number): void {
  const now = Date.now();
  sql.prunePrefixTombstones.run(now - window);
  sql.recordPrefixTombstone.run(from, now);
  if (to) sql.deleteTombstonesRange.run(from, to);
  else sql.deleteTombstonesFrom.run(from);
}

/** A persistent, crash-safe, size-bounded tier: `disk({ dir: ".zarr-cache", maxBytes: 10 * 1024 ** 3 })`. */
export function disk(options: DiskOptions): DiskTier {
  return new DiskTier(options);
}
