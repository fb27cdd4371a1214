import { isZarrsCacheError } from "@zarrs-cache/core";
import { growthCheck, isFull, shrunkLimit } from "./full-disk.js";
import { decodeKey } from "./keys.js";
import type { ResolvedDiskOptions } from "./options.js";
import {
  type DropReason,
  type Removed,
  type Room,
  SWEEP_BATCH,
  collectBlob,
  effectiveLimit,
  makeRoom,
  nothingRemoved,
  verifyTotals,
  writeTouches,
} from "./space.js";
import { ioError, isBusy, isCorruption, isMoved } from "./sqlite-errors.js";
import type { Statements } from "./statements.js";
import { type EvictionListener, LEASE_MS, MAINTENANCE_BUSY_MS, MAINTENANCE_MS, NO_KEY, StoreConnection } from "./store-connection.js";

export type { EvictionListener };

/** How often files no row refers to (left by a crash) are looked for, and the totals recounted, in ms. */
const ORPHAN_SWEEP_MS = 10 * 60_000;
/** Past this many queued access times, they are written at once. */
const MAX_QUEUED_TOUCHES = 10_000;
/** Most rows the change log keeps (one per application write, delete or lease release), whatever their age. */
const CHANGE_LOG_ROWS = 100_000;
/** How often reads check that the database file was not replaced (a rebuild by another process), in ms. */
const READ_IDENTITY_CHECK_MS = 100;

interface WriteOptions<T> {
  /** Count a busy database as an error (false for background maintenance, which simply retries). */
  countBusy?: boolean;
  /**
   * Make room when the file system is full (default true). Background work says false: it would
   * otherwise drain the cache by retrying every second on a disk another program filled.
   */
  relieve?: boolean;
  /**
   * For removals, which must not fail on a full disk: computes the result by reading (reads need no
   * room) before the tier makes room; if the file system is still full after that, the directory starts over.
   */
  whenStillFull?: () => T;
}

/**
 * The reads, writes and housekeeping behind a DiskTier: turns failures into typed errors (recovering
 * from damage and moved files first), treats a full file system as pressure, queues access times,
 * renews its lease on the shared bound, reports evictions.
 */
export class TierStore extends StoreConnection {
  /** Access times of hits not yet written: one UPDATE per key per flush instead of a write per hit. */
  private touches = new Map<string, number>();
  private touchesWritten = false;
  private flushScheduled = false;
  private lastSweep = 0;
  private lastIdentityCheck = 0;
  private readonly growFullLimit: (fullLimit: number, ceiling: number) => number;

  constructor(config: ResolvedDiskOptions) {
    super(config);
    this.growFullLimit = growthCheck(config.dir);
  }

  /**
   * Statements for a read. At most every 100 ms (one clock read per call otherwise) it also checks
   * that the database file is still the one open: after another process rebuilt or started the
   * directory over, reads follow it within 100 ms instead of serving the old file's entries.
   */
  readStatements(): Statements {
    const now = Date.now();
    if (now - this.lastIdentityCheck >= READ_IDENTITY_CHECK_MS && this.connection !== undefined) {
      this.lastIdentityCheck = now;
      try {
        this.checkIdentity();
      } catch {
        this.counters.errors++;
      }
    }
    return this.statements();
  }

  /** The eviction context of a write: this process's bound, the key just written, the time. */
  room(keep: Buffer, now: number, sweepLimit: number, incoming?: number): Room {
    return { own: this.config.maxBytes, keep, now, sweepLimit, incoming, growFullLimit: this.growFullLimit };
  }

  onEviction(listener: EvictionListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Runs a read. Damage reported by SQLite counts as a corruption and reads as nothing; other failures are IO_ERROR. */
  read<T>(work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      if (!isCorruption(error)) {
        this.counters.errors++;
        throw ioError(`disk tier "${this.config.name}": read`, error);
      }
      this.counters.corruptions++;
      this.afterCorruption();
      return undefined;
    }
  }

  /**
   * Runs `work` in an IMMEDIATE transaction, then deletes the files of the rows it removed.
   * A database file moved behind our back is reopened and the work retried; damage reported by SQLite
   * is recovered from (a rebuild when it persists) and retried; a full file system is relieved
   * (see relieveFullDisk) and retried once. Failures left become IO_ERROR (counted).
   */
  write<T>(what: string, work: (sql: Statements, removed: Removed) => T, options: WriteOptions<T> = {}): T {
    // One stat per write (about a microsecond): a write must not land in a file deleted behind our back.
    this.checkIdentity();
    let moved = false;
    let relieved = false;
    let damaged = 0;
    let outcomeBeforeRelief: { value: T } | undefined;
    for (;;) {
      const sql = this.statements();
      const removed = nothingRemoved(this.listeners.length > 0);
      this.touchesWritten = false;
      let result: T;
      try {
        result = this.immediate!(() => work(sql, removed)) as T;
      } catch (error) {
        if (isZarrsCacheError(error) && !isFull(error)) throw error; // refused by the work itself; nothing written
        try {
          if (isMoved(error) && !moved) {
            moved = true;
            this.reopen();
            continue;
          }
          if (isFull(error) && !relieved && options.relieve !== false) {
            relieved = true;
            // The relief may evict what this write removes: its outcome is what was there before.
            if (options.whenStillFull !== undefined) outcomeBeforeRelief = { value: options.whenStillFull() };
            this.relieveFullDisk();
            continue;
          }
          if (isFull(error) && outcomeBeforeRelief !== undefined) {
            this.startOver("the file system is full");
            return outcomeBeforeRelief.value;
          }
          if (isCorruption(error)) {
            this.counters.corruptions++;
            this.afterCorruption();
            if (damaged++ < 2) continue;
          }
        } catch (recoveryError) {
          this.counters.errors++;
          throw ioError(`disk tier "${this.config.name}": ${what}`, recoveryError);
        }
        if (options.countBusy !== false || !isBusy(error)) this.counters.errors++;
        throw ioError(`disk tier "${this.config.name}": ${what}`, error);
      }
      this.afterCommit(removed);
      return outcomeBeforeRelief === undefined ? result : outcomeBeforeRelief.value;
    }
  }

  protected afterCommit(removed: Removed): void {
    if (this.touchesWritten) this.touches.clear();
    const c = this.counters;
    c.evictions += removed.evicted;
    c.expired += removed.expired;
    c.totalsRepaired += removed.totalsRepaired;
    c.corruptions += removed.corrupt;
    if (removed.blobs.length > 0) c.errors += this.blobs.remove(removed.blobs);
    if (removed.dropped !== undefined && removed.dropped.length > 0) this.emit(removed.dropped);
    if (removed.limit > 0 && removed.limit !== this.limitInForce) this.followLimit(removed.limit);
  }

  private emit(dropped: [Buffer, DropReason][]): void {
    const listeners = this.listeners;
    for (const [key, reason] of dropped) {
      const decoded = decodeKey(key);
      for (const listener of listeners) {
        try {
          listener(decoded, reason);
        } catch {
          // A faulty listener must not fail the write that evicted.
        }
      }
    }
  }

  /**
   * Writes a large value's file. A full file system is relieved and the file tried once more;
   * IO_ERROR (counted) when it still refuses (ENOSPC, EACCES…).
   */
  writeBlob(value: Uint8Array): string {
    try {
      return this.blobs.write(value);
    } catch (error) {
      let cause = error;
      if (isFull(error)) {
        try {
          this.relieveFullDisk();
          return this.blobs.write(value);
        } catch (again) {
          cause = again;
        }
      }
      this.counters.errors++;
      throw ioError(`disk tier "${this.config.name}": writing a ${value.byteLength}-byte value file`, cause);
    }
  }

  /** Drops an entry that failed its integrity check (only if unchanged since it was read); always undefined. */
  dropCorrupt(id: number, sum: number): undefined {
    this.counters.corruptions++;
    try {
      const blob = this.sql!.deleteCorrupt.get(id, sum);
      if (typeof blob === "string") this.counters.errors += this.blobs.remove([blob]);
    } catch (error) {
      // Another process may hold the write lock: the entry fails its check again next time.
      this.counters.errors++;
      if (isCorruption(error)) {
        try {
          this.afterCorruption();
        } catch {
          // Counted; the next operation tries again.
        }
      }
    }
    return undefined;
  }

  touch(key: string): void {
    this.touches.set(key, Date.now());
    if (this.touches.size >= MAX_QUEUED_TOUCHES && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.maintain(MAINTENANCE_BUSY_MS, false);
      });
    }
  }

  /** Inside a write transaction: writes the queued access times (cleared once it commits). */
  writeQueuedTouches(sql: Statements): void {
    if (this.touches.size === 0) return;
    writeTouches(sql, this.touches);
    this.touchesWritten = true;
  }

  /** True at most once per maintenance period: time for a write to reclaim expired entries in passing. */
  sweepDue(now: number): boolean {
    if (now - this.lastSweep < MAINTENANCE_MS) return false;
    this.lastSweep = now;
    return true;
  }

  close(): void {
    if (this.closed) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.maintain(this.config.busyTimeout, false);
    this.leave();
    this.totals();
    this.closed = true;
    const connection = this.connection;
    if (connection === undefined) return;
    this.connection = undefined;
    this.sql = undefined;
    try {
      connection.db.close();
    } catch (error) {
      this.counters.errors++;
      throw ioError(`disk tier "${this.config.name}": close`, error);
    }
  }

  /**
   * The file system refused a write. Lowers the directory's full-disk limit to 90% of what it holds
   * and evicts down to it, removing the evicted entries' value files before the transaction that
   * deletes their rows (freeing a file needs no room; a transaction does). When even that
   * transaction finds no room, the directory starts over (carrying the lowered limit).
   */
  relieveFullDisk(): void {
    this.counters.diskFull++;
    const sql = this.statements();
    const totals = this.totals();
    const held = Math.max(0, totals?.[1] ?? 0);
    const target = shrunkLimit(effectiveLimit(this.config.maxBytes, totals?.[2] ?? 0, totals?.[3] ?? 0), held);
    this.carriedFullLimit = target;
    // Reading needs no room. Least recently used first, until what is left fits the target and, when
    // value files exist, a WAL's worth of them is freed (without evicting more than half the directory).
    const victims: [number, number, string | null, Buffer][] = [];
    let bytes = held;
    let filesFreed = 0;
    for (const row of sql.lruAll.iterate() as Iterable<[number, number, string | null, Buffer]>) {
      if (bytes <= target && (filesFreed >= this.walBytes || bytes <= held / 2)) break;
      victims.push(row);
      bytes -= row[1];
      if (row[2] !== null) filesFreed += row[1];
    }
    this.blobs.remove(victims.flatMap(([, , blob]) => (blob === null ? [] : [blob])));
    this.followLimit(target);
    // With the room those files left, fold the WAL into the database and cut it back: the eviction needs WAL room.
    this.checkpoint();
    const removed = nothingRemoved(this.listeners.length > 0);
    try {
      this.immediate!(() => {
        for (const [id, , , key] of victims) {
          collectBlob(removed, sql.deleteId.get(id));
          removed.evicted++;
          removed.dropped?.push([key, "evict"]);
        }
        sql.setFullLimit.run(target);
      });
    } catch (error) {
      if (!isFull(error)) throw error;
      this.startOver("the file system is full");
      return;
    }
    this.carriedFullLimit = 0;
    this.afterCommit(removed);
    this.checkpoint();
    this.releaseFreePages(0);
  }

  /** At close: this process's maxBytes stops counting for the shared bound. Best effort: the lease lapses otherwise. */
  private leave(): void {
    if (this.connection === undefined) return;
    try {
      this.write(
        "close",
        (sql) => {
          sql.removeOpener.run(this.openerId);
          sql.updateBound.run();
        },
        { relieve: false },
      );
    } catch {
      // Counted by write(); the lease runs out on its own.
    }
  }

  /**
   * Background work: write queued access times, reclaim expired entries, renew the lease on the shared
   * bound, recount the totals now and then, notice a replaced file. Never throws.
   */
  protected maintain(busyMs: number, checkIdentity: boolean): void {
    if (this.connection === undefined) return;
    try {
      if (checkIdentity) this.checkIdentity();
      const now = Date.now();
      const verify = now - this.lastOrphanSweep >= ORPHAN_SWEEP_MS;
      if (verify) this.sweepOrphans();
      const heartbeat = now - this.lastHeartbeat >= LEASE_MS / 4;
      // An idle tier takes the write lock only when access times are queued, rows have expired, or its lease is due.
      const due = now - this.lastSweep >= MAINTENANCE_MS;
      const sweep = due && this.sql!.anyExpired.get(now) !== undefined;
      const oldTombstones = now - this.config.tombstoneTtl;
      // The change log is kept as long as tombstones, and to CHANGE_LOG_ROWS: a process that missed more resyncs (see change-feed.ts).
      const oldestChange = this.sql!.oldestChange.get() as number | undefined;
      const longLog =
        oldestChange !== undefined && (oldestChange < oldTombstones || (this.sql!.changeSpan.get() as number) > CHANGE_LOG_ROWS);
      const prune = this.sql!.anyOldTombstone.get(oldTombstones, oldTombstones) !== undefined || longLog;
      if (!verify && !heartbeat && !sweep && !prune && this.touches.size === 0) return;
      const db = this.connection.db;
      db.pragma(`busy_timeout = ${busyMs}`);
      try {
        this.lastSweep = now;
        this.write(
          "maintenance",
          (sql, removed) => {
            this.writeQueuedTouches(sql);
            if (verify) verifyTotals(sql, removed);
            if (heartbeat) this.renewLease(sql, now);
            if (prune) {
              sql.pruneTombstones.run(oldTombstones);
              sql.prunePrefixTombstones.run(oldTombstones);
              sql.pruneChanges.run(oldTombstones);
              sql.trimChanges.run(CHANGE_LOG_ROWS);
              sql.pruneLeases.run(now);
            }
            makeRoom(sql, this.room(NO_KEY, now, SWEEP_BATCH), removed);
          },
          { countBusy: false, relieve: false },
        );
      } finally {
        this.connection?.db.pragma(`busy_timeout = ${this.config.busyTimeout}`);
      }
    } catch {
      // Counted by write() (a busy database is not an error: it is tried again next time).
      if (this.touches.size > MAX_QUEUED_TOUCHES) this.touches.clear();
    }
  }
}
