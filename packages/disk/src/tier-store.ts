import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { ZarrsCacheError, emptyStats, isZarrsCacheError } from "@zarrs-cache/core";
import { BlobStore } from "./blob-store.js";
import {
  type ConnectSettings,
  type Connection,
  type Recovery,
  applyWalBytes,
  badDir,
  connect,
  ensureDirectory,
  recover,
  repairTriggers,
  walBytesFor,
} from "./database.js";
import { growthCheck, isFull, shrunkLimit } from "./full-disk.js";
import { decodeKey } from "./keys.js";
import type { ResolvedDiskOptions } from "./options.js";
import {
  type DropReason,
  MIN_BOUND,
  type Removed,
  type Room,
  SWEEP_BATCH,
  type Totals,
  collectBlob,
  effectiveLimit,
  makeRoom,
  nothingRemoved,
  verifyTotals,
  writeTouches,
} from "./space.js";
import { ioError, isBusy, isCorruption, isMoved } from "./sqlite-errors.js";
import { type Statements, prepareStatements } from "./statements.js";

/** How often queued access times are written, expired entries reclaimed and the file's identity checked, in ms. */
const MAINTENANCE_MS = 1000;
/** How often files no row refers to (left by a crash) are looked for, and the totals recounted, in ms. */
const ORPHAN_SWEEP_MS = 10 * 60_000;
/** Past this many queued access times, they are written at once. */
const MAX_QUEUED_TOUCHES = 10_000;
/** Busy timeout for background maintenance: it retries next time rather than block the event loop. */
const MAINTENANCE_BUSY_MS = 50;
/** A process's maxBytes counts for the shared bound while its lease is younger than this (renewed every quarter). */
export const LEASE_MS = 60_000;
/** How often reads check that the database file was not replaced (a rebuild by another process), in ms. */
const READ_IDENTITY_CHECK_MS = 100;
const MiB = 1024 * 1024;
const NO_KEY = Buffer.alloc(0);

export type EvictionListener = (key: string, reason: DropReason) => void;

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
 * The connection, counters and housekeeping behind a DiskTier: connects lazily, reconnects when the
 * database file is replaced or damaged (rebuilding it when the damage persists), treats a full file
 * system as pressure, turns failures into typed errors, queues access times, renews its lease on the
 * shared bound.
 */
export class TierStore {
  readonly counters = { ...emptyStats(), expired: 0, corruptions: 0, rebuilds: 0, reopens: 0, orphans: 0, totalsRepaired: 0, diskFull: 0 };
  readonly blobs: BlobStore;
  /** Grows each time the database was created anew: value files written before went with the old one. */
  epoch = 0;
  private connection: Connection | undefined;
  private sql: Statements | undefined;
  private immediate: ((work: () => unknown) => unknown) | undefined;
  /** Access times of hits not yet written: one UPDATE per key per flush instead of a write per hit. */
  private touches = new Map<string, number>();
  private touchesWritten = false;
  private flushScheduled = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastSweep = 0;
  private lastOrphanSweep = 0;
  private lastHeartbeat = 0;
  private lastIdentityCheck = 0;
  private lastTotals: Totals | undefined;
  /** A database file that passed quick_check after SQLite reported damage in it: damage there again means rebuild. */
  private suspect: { ino: number; dev: number } | undefined;
  /** The full-disk limit to carry into a database created anew. */
  private carriedFullLimit = 0;
  private startingOver = false;
  /** True once a connection was opened: later connection failures are I/O errors, not configuration errors. */
  private opened = false;
  /** The bound in force as last seen; the WAL is kept to a quarter of it (a small file system must not fill up with WAL). */
  private limitInForce: number;
  private walBytes: number;
  private listeners: EvictionListener[] = [];
  private readonly openerId = randomBytes(8).toString("hex");
  private readonly growFullLimit: (fullLimit: number, ceiling: number) => number;
  private closed = false;

  constructor(private readonly config: ResolvedDiskOptions) {
    this.blobs = new BlobStore(config.dir);
    this.growFullLimit = growthCheck(config.dir);
    this.limitInForce = config.maxBytes;
    this.walBytes = walBytesFor(config.maxBytes);
  }

  statements(): Statements {
    if (this.closed) throw new ZarrsCacheError("CLOSED", `the disk tier "${this.config.name}" is closed`);
    if (this.sql === undefined) this.connect();
    return this.sql!;
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

  private afterCommit(removed: Removed): void {
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

  /** The bound in force changed (another process, a full disk, space back): resize the WAL to match. */
  private followLimit(limit: number): void {
    this.limitInForce = limit;
    const walBytes = walBytesFor(limit);
    if (walBytes === this.walBytes) return;
    this.walBytes = walBytes;
    try {
      if (this.connection !== undefined) applyWalBytes(this.connection.db, walBytes);
    } catch {
      // Applied at the next connection.
    }
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

  /** [entries, bytes, shared bound, full-disk limit] of the directory, as last read. */
  totals(): Totals | undefined {
    if (!this.closed && this.sql !== undefined) {
      try {
        this.lastTotals = this.sql.totals.get() as Totals;
      } catch {
        // Keep the last totals read; the failure is counted by the operation that meets it.
      }
    }
    return this.lastTotals;
  }

  /** Gives free database pages back to the file system when more than `slack` bytes are free. */
  releaseFreePages(slack: number): void {
    const db = this.connection?.db;
    if (db === undefined) return;
    try {
      const free = (db.pragma("freelist_count", { simple: true }) as number) * (db.pragma("page_size", { simple: true }) as number);
      if (free > slack) db.pragma("incremental_vacuum");
    } catch {
      // Reclaimed next time; new entries reuse the free pages meanwhile.
    }
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

  // ─── a full file system ──────────────────────────────────────────────────────

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

  /** Copies the WAL into the database and truncates it. Best effort: the WAL is reused meanwhile. */
  private checkpoint(): void {
    try {
      this.connection?.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // Tried again at the next relief.
    }
  }

  /** Deletes the database and every value file and creates them anew (other processes follow, see the README). */
  private startOver(why: string): void {
    if (this.startingOver) throw new ZarrsCacheError("IO_ERROR", `disk tier "${this.config.name}": ${why}, even after starting the directory over`);
    if (this.carriedFullLimit === 0) this.carriedFullLimit = this.totals()?.[3] ?? 0;
    this.dropConnection();
    this.startingOver = true;
    try {
      recover(this.config.dir, this.settings(), { mode: "force" }).db.close();
      this.noteRebuild(`${why}: the directory was started over`);
      this.connect();
    } finally {
      this.startingOver = false;
    }
  }

  // ─── connection lifecycle ────────────────────────────────────────────────────

  private settings(): ConnectSettings {
    // Pages still in the WAL are read with one pread each (the main file is memory-mapped), so a
    // small WAL keeps hits fast; it also bounds what the WAL adds to the directory's size.
    return { busyTimeout: this.config.busyTimeout, walBytes: this.walBytes };
  }

  private connect(): void {
    const { dir, name } = this.config;
    ensureDirectory(dir);
    let connection: Connection;
    try {
      connection = connect(dir, this.settings());
      this.blobs.ensureDir();
    } catch (error) {
      if (isZarrsCacheError(error)) throw error;
      // Once the directory has worked, a failure to reopen it is an I/O failure (a full disk, say), not bad config.
      if (this.opened) {
        this.counters.errors++;
        throw ioError(`disk tier "${name}": reopening the cache database`, error);
      }
      throw badDir(dir, `cannot hold the cache: ${(error as Error)?.message ?? error}`, error);
    }
    const db = connection.db;
    const transaction = db.transaction((work: () => unknown) => work());
    if (connection.rebuilt) this.noteRebuild("it was damaged");
    this.connection = connection;
    this.sql = prepareStatements(db);
    this.immediate = (work) => transaction.immediate(work);
    try {
      this.openTransaction();
    } catch (error) {
      let failure = error;
      if (isCorruption(error) && !this.startingOver) {
        // The open's own recount of the totals walked a damaged index: rebuild now.
        this.counters.corruptions++;
        this.dropConnection();
        this.startingOver = true;
        try {
          recover(dir, this.settings(), { mode: "persistent", ino: connection.ino, dev: connection.dev }).db.close();
          this.noteRebuild("it was damaged");
          this.connect();
        } finally {
          this.startingOver = false;
        }
        return;
      }
      if (isFull(error) && !this.startingOver) {
        try {
          this.relieveFullDisk();
          if (this.connection === connection) this.openTransaction();
          failure = undefined;
        } catch (again) {
          failure = again;
        }
      }
      if (failure !== undefined) {
        this.dropConnection();
        if (isZarrsCacheError(failure, "IO_ERROR")) throw failure;
        if (this.opened) throw ioError(`disk tier "${name}": reopening the cache database`, failure);
        throw badDir(dir, `is not writable for disk tier "${name}": ${(failure as Error)?.message ?? failure}`, failure);
      }
    }
    this.opened = true;
    this.releaseFreePages(Math.max(4 * MiB, this.config.maxBytes / 8));
    this.sweepOrphans();
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.maintain(MAINTENANCE_BUSY_MS, true), MAINTENANCE_MS);
      this.timer.unref();
    }
  }

  /**
   * At open: proves the directory writable now rather than at the first backfill, repairs the totals
   * triggers and recounts the totals, registers this process's maxBytes, and brings the directory
   * within the bound (which may have been lowered since the last run).
   */
  private openTransaction(): void {
    const sql = this.sql!;
    const db = this.connection!.db;
    const removed = nothingRemoved(this.listeners.length > 0);
    const now = Date.now();
    this.immediate!(() => {
      repairTriggers(db);
      const [, , , fullLimit] = verifyTotals(sql, removed);
      if (this.carriedFullLimit >= MIN_BOUND && !(fullLimit >= MIN_BOUND && fullLimit <= this.carriedFullLimit)) {
        sql.setFullLimit.run(this.carriedFullLimit);
      }
      this.renewLease(sql, now);
      makeRoom(sql, this.room(NO_KEY, now, SWEEP_BATCH), removed);
    });
    this.carriedFullLimit = 0;
    this.afterCommit(removed);
  }

  /** Registers (or renews) this process's maxBytes and recomputes the shared bound, forgetting lapsed leases. */
  private renewLease(sql: Statements, now: number): void {
    sql.registerOpener.run(this.openerId, this.config.maxBytes, now);
    sql.pruneOpeners.run(now - LEASE_MS);
    sql.updateBound.run();
    this.lastHeartbeat = now;
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

  private noteRebuild(why: string): void {
    this.counters.rebuilds++;
    this.epoch++;
    this.suspect = undefined;
    process.emitWarning(`zarrs-cache disk tier "${this.config.name}": the cache database in ${this.config.dir} was created anew (${why})`);
  }

  private dropConnection(): void {
    const old = this.connection;
    this.connection = undefined;
    this.sql = undefined;
    try {
      old?.db.close();
    } catch {
      // The old handle is abandoned either way.
    }
  }

  /** Reconnects after the database file was deleted or replaced behind our back. */
  private reopen(): void {
    this.dropConnection();
    this.counters.reopens++;
    this.connect();
  }

  /**
   * After SQLite reported damage: the first time on a file, a quick_check decides (rebuild if it
   * fails); if the same file reports damage again, it is rebuilt (quick_check does not see an index
   * that disagrees with its table, the usual cause of repeated SQLITE_CORRUPT_INDEX).
   */
  private afterCorruption(): void {
    const failed = this.connection;
    const repeated = failed !== undefined && this.suspect?.ino === failed.ino && this.suspect.dev === failed.dev;
    const recovery: Recovery = repeated ? { mode: "persistent", ino: failed.ino, dev: failed.dev } : { mode: "check" };
    this.dropConnection();
    this.counters.reopens++;
    let checked: Connection;
    try {
      checked = recover(this.config.dir, this.settings(), recovery);
      checked.db.close();
    } catch (error) {
      this.counters.errors++;
      throw ioError(`disk tier "${this.config.name}": recovering the damaged database`, error);
    }
    if (checked.rebuilt) this.noteRebuild("it was damaged");
    else this.suspect = failed !== undefined && checked.ino === failed.ino && checked.dev === failed.dev ? { ino: checked.ino, dev: checked.dev } : undefined;
    this.connect();
  }

  /** Reconnects when the database file was deleted or replaced behind our back. */
  private checkIdentity(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    const stats = fs.statSync(connection.file, { throwIfNoEntry: false });
    if (stats === undefined || stats.ino !== connection.ino || stats.dev !== connection.dev) this.reopen();
  }

  /**
   * Background work: write queued access times, reclaim expired entries, renew the lease on the shared
   * bound, recount the totals now and then, notice a replaced file. Never throws.
   */
  private maintain(busyMs: number, checkIdentity: boolean): void {
    if (this.connection === undefined) return;
    try {
      if (checkIdentity) this.checkIdentity();
      const now = Date.now();
      const verify = now - this.lastOrphanSweep >= ORPHAN_SWEEP_MS;
      if (verify) this.sweepOrphans();
      const heartbeat = now - this.lastHeartbeat >= LEASE_MS / 4;
      // An idle tier takes the write lock only when access times are queued, rows have expired, or its lease is due.
      if (!verify && !heartbeat && this.touches.size === 0 && (now - this.lastSweep < MAINTENANCE_MS || this.sql!.anyExpired.get(now) === undefined)) {
        return;
      }
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

  /** Removes value files no row refers to that are old enough not to be another process's write in progress. */
  private sweepOrphans(): void {
    this.lastOrphanSweep = Date.now();
    const sql = this.sql;
    if (sql === undefined) return;
    try {
      const referenced = new Set(sql.allBlobs.all() as string[]);
      this.counters.orphans += this.blobs.sweepOrphans(referenced, Math.max(60_000, 2 * this.config.busyTimeout));
    } catch {
      this.counters.errors++;
    }
  }
}
