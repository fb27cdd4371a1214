import fs from "node:fs";
import { ZarrsCacheError, emptyStats, isZarrsCacheError } from "@zarrs-cache/core";
import { BlobStore } from "./blob-store.js";
import { type ConnectSettings, type Connection, badDir, checkAndReconnect, connect, ensureDirectory } from "./database.js";
import type { ResolvedDiskOptions } from "./options.js";
import { type Removed, SWEEP_BATCH, makeRoom, nothingRemoved, writeTouches } from "./space.js";
import { ioError, isBusy, isCorruption, isMoved } from "./sqlite-errors.js";
import { type Statements, prepareStatements } from "./statements.js";

/** How often queued access times are written, expired entries reclaimed and the file's identity checked, in ms. */
const MAINTENANCE_MS = 1000;
/** How often files no row refers to (left by a crash) are looked for, in ms. */
const ORPHAN_SWEEP_MS = 10 * 60_000;
/** Past this many queued access times, they are written at once. */
const MAX_QUEUED_TOUCHES = 10_000;
/** Busy timeout for background maintenance: it retries next time rather than block the event loop. */
const MAINTENANCE_BUSY_MS = 50;
const MiB = 1024 * 1024;

/**
 * The connection, counters and housekeeping behind a DiskTier: connects lazily, reconnects when the
 * database file is replaced or damaged, turns failures into typed errors, queues access times.
 */
export class TierStore {
  readonly counters = { ...emptyStats(), expired: 0, corruptions: 0, rebuilds: 0, reopens: 0, orphans: 0 };
  readonly blobs: BlobStore;
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
  private lastTotals: [number, number] | undefined;
  private closed = false;

  constructor(private readonly config: ResolvedDiskOptions) {
    this.blobs = new BlobStore(config.dir);
  }

  statements(): Statements {
    if (this.closed) throw new ZarrsCacheError("CLOSED", `the disk tier "${this.config.name}" is closed`);
    if (this.sql === undefined) this.connect();
    return this.sql!;
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
      this.reopen(true);
      return undefined;
    }
  }

  /**
   * Runs `work` in an IMMEDIATE transaction, then deletes the files of the rows it removed.
   * Failures become IO_ERROR (counted); a database file moved behind our back is reopened and retried once.
   */
  write<T>(what: string, work: (sql: Statements, removed: Removed) => T, countBusy = true): T {
    // One stat per write (about a microsecond): a write must not land in a file deleted behind our back.
    this.checkIdentity();
    for (let attempt = 0; ; attempt++) {
      const sql = this.statements();
      const removed = nothingRemoved();
      this.touchesWritten = false;
      let result: T;
      try {
        result = this.immediate!(() => work(sql, removed)) as T;
      } catch (error) {
        if (isMoved(error) && attempt === 0) {
          this.reopen(false);
          continue;
        }
        if (countBusy || !isBusy(error)) this.counters.errors++;
        if (isCorruption(error)) {
          this.counters.corruptions++;
          this.reopen(true);
        }
        throw ioError(`disk tier "${this.config.name}": ${what}`, error);
      }
      this.afterCommit(removed);
      return result;
    }
  }

  private afterCommit(removed: Removed): void {
    if (this.touchesWritten) this.touches.clear();
    this.counters.evictions += removed.evicted;
    this.counters.expired += removed.expired;
    if (removed.blobs.length > 0) this.counters.errors += this.blobs.remove(removed.blobs);
  }

  /** Writes a large value's file; IO_ERROR (counted) when the file system refuses (ENOSPC, EACCES…). */
  writeBlob(value: Uint8Array): string {
    try {
      return this.blobs.write(value);
    } catch (error) {
      this.counters.errors++;
      throw ioError(`disk tier "${this.config.name}": writing a ${value.byteLength}-byte value file`, error);
    }
  }

  /** Drops an entry that failed its integrity check (only if unchanged since it was read); always undefined. */
  dropCorrupt(id: number, sum: number): undefined {
    this.counters.corruptions++;
    try {
      const blob = this.sql!.deleteCorrupt.get(id, sum);
      if (typeof blob === "string") this.counters.errors += this.blobs.remove([blob]);
    } catch {
      // Another process may hold the write lock: the entry fails its check again next time.
      this.counters.errors++;
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

  totals(): [number, number] | undefined {
    if (!this.closed && this.sql !== undefined) {
      try {
        this.lastTotals = this.sql.totals.get() as [number, number];
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

  // ─── connection lifecycle ────────────────────────────────────────────────────

  private settings(): ConnectSettings {
    // Pages still in the WAL are read with one pread each (the main file is memory-mapped), so a
    // small WAL keeps hits fast; it also bounds what the WAL adds to the directory's size.
    return { busyTimeout: this.config.busyTimeout, walBytes: Math.min(4 * MiB, Math.max(MiB / 4, Math.floor(this.config.maxBytes / 4))) };
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
      throw badDir(dir, `cannot hold the cache: ${(error as Error)?.message ?? error}`, error);
    }
    const db = connection.db;
    const sql = prepareStatements(db);
    const transaction = db.transaction((work: () => unknown) => work());
    if (connection.rebuilt) this.noteRebuild();
    this.connection = connection;
    this.sql = sql;
    this.immediate = (work) => transaction.immediate(work);
    try {
      // Proves the directory is writable now rather than at the first backfill, and brings it
      // within this process's bound (maxBytes may have been lowered since the last run).
      const removed = nothingRemoved();
      transaction.immediate(() => makeRoom(sql, this.config.maxBytes, Buffer.alloc(0), Date.now(), SWEEP_BATCH, removed));
      this.afterCommit(removed);
    } catch (error) {
      this.connection = undefined;
      this.sql = undefined;
      db.close();
      throw badDir(dir, `is not writable for disk tier "${name}": ${(error as Error)?.message ?? error}`, error);
    }
    this.releaseFreePages(Math.max(4 * MiB, this.config.maxBytes / 8));
    this.sweepOrphans();
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.maintain(MAINTENANCE_BUSY_MS, true), MAINTENANCE_MS);
      this.timer.unref();
    }
  }

  private noteRebuild(): void {
    this.counters.rebuilds++;
    process.emitWarning(`zarrs-cache disk tier "${this.config.name}": the cache database in ${this.config.dir} was damaged and has been created anew`);
  }

  /** Reconnects: after the file moved, or (check) after SQLite reported damage, rebuilding the database if quick_check fails. */
  private reopen(check: boolean): void {
    const old = this.connection;
    this.connection = undefined;
    this.sql = undefined;
    try {
      old?.db.close();
    } catch {
      // The old handle is abandoned either way.
    }
    this.counters.reopens++;
    if (check) {
      try {
        const checked = checkAndReconnect(this.config.dir, this.settings());
        checked.db.close();
        if (checked.rebuilt) this.noteRebuild();
      } catch (error) {
        this.counters.errors++;
        throw ioError(`disk tier "${this.config.name}": recovering the damaged database`, error);
      }
    }
    this.connect();
  }

  /** Reconnects when the database file was deleted or replaced behind our back. */
  private checkIdentity(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    const stats = fs.statSync(connection.file, { throwIfNoEntry: false });
    if (stats === undefined || stats.ino !== connection.ino || stats.dev !== connection.dev) this.reopen(false);
  }

  /** Background work: write queued access times, reclaim expired entries, notice a replaced file. Never throws. */
  private maintain(busyMs: number, checkIdentity: boolean): void {
    if (this.connection === undefined) return;
    try {
      if (checkIdentity) this.checkIdentity();
      const now = Date.now();
      if (now - this.lastOrphanSweep >= ORPHAN_SWEEP_MS) this.sweepOrphans();
      // An idle tier takes no write lock: only when access times are queued or rows have expired.
      if (this.touches.size === 0 && (now - this.lastSweep < MAINTENANCE_MS || this.sql!.anyExpired.get(now) === undefined)) return;
      const db = this.connection.db;
      db.pragma(`busy_timeout = ${busyMs}`);
      try {
        this.lastSweep = now;
        this.write(
          "maintenance",
          (sql, removed) => {
            this.writeQueuedTouches(sql);
            makeRoom(sql, this.config.maxBytes, Buffer.alloc(0), now, SWEEP_BATCH, removed);
          },
          false,
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
