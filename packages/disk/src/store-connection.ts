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
import { isFull } from "./full-disk.js";
import { throwIfNativeAddonFailed } from "./native-addon.js";
import type { ResolvedDiskOptions } from "./options.js";
import {
  type DropReason,
  MIN_BOUND,
  type Removed,
  type Room,
  SWEEP_BATCH,
  type Totals,
  makeRoom,
  nothingRemoved,
  verifyTotals,
} from "./space.js";
import { ioError, isCorruption } from "./sqlite-errors.js";
import { type Statements, prepareStatements } from "./statements.js";

/** How often queued access times are written, expired entries reclaimed and the file's identity checked, in ms. */
export const MAINTENANCE_MS = 1000;
/** Busy timeout for background maintenance: it retries next time rather than block the event loop. */
export const MAINTENANCE_BUSY_MS = 50;
/** A process's maxBytes counts for the shared bound while its lease is younger than this (renewed every quarter). */
export const LEASE_MS = 60_000;
const MiB = 1024 * 1024;
export const NO_KEY = Buffer.alloc(0);

export type EvictionListener = (key: string, reason: DropReason) => void;

/**
 * The connection behind a TierStore and its life: connects lazily (proving the directory writable,
 * repairing the schema, recounting the totals, registering this process's maxBytes), reconnects when
 * the database file is replaced, recovers from damage (rebuilding when it persists), and starts the
 * directory over when a full file system leaves no other way.
 */
export abstract class StoreConnection {
  readonly counters = {
    ...emptyStats(),
    ...{ expired: 0, corruptions: 0, rebuilds: 0, reopens: 0, orphans: 0, totalsRepaired: 0, diskFull: 0, fillsRefused: 0, holds: 0 },
    ...{ leasesTaken: 0, leaseWaits: 0, leaseWaitHits: 0, leaseTakeovers: 0, leaseTimeouts: 0, leasesAbandoned: 0 },
    ...{ remoteInvalidations: 0, feedResyncs: 0 },
  };
  readonly blobs: BlobStore;
  /** Grows each time the database was created anew: value files written before went with the old one. */
  epoch = 0;
  protected connection: Connection | undefined;
  protected sql: Statements | undefined;
  protected immediate: ((work: () => unknown) => unknown) | undefined;
  protected timer: ReturnType<typeof setInterval> | undefined;
  protected lastOrphanSweep = 0;
  protected lastHeartbeat = 0;
  protected lastTotals: Totals | undefined;
  /** A database file that passed quick_check after SQLite reported damage in it: damage there again means rebuild. */
  protected suspect: { ino: number; dev: number } | undefined;
  /** The full-disk limit to carry into a database created anew. */
  protected carriedFullLimit = 0;
  protected startingOver = false;
  /** True once a connection was opened: later connection failures are I/O errors, not configuration errors. */
  protected opened = false;
  /** The bound in force as last seen; the WAL is kept to a quarter of it (a small file system must not fill up with WAL). */
  protected limitInForce: number;
  protected walBytes: number;
  protected listeners: EvictionListener[] = [];
  /** This tier's id among the processes using the directory (openers, leases, the change log's origin). */
  readonly openerId = randomBytes(8).toString("hex");
  protected closed = false;

  constructor(protected readonly config: ResolvedDiskOptions) {
    this.blobs = new BlobStore(config.dir);
    this.limitInForce = config.maxBytes;
    this.walBytes = walBytesFor(config.maxBytes);
  }

  /** The eviction context of a write: this process's bound, the key just written, the time. */
  abstract room(keep: Buffer, now: number, sweepLimit: number, incoming?: number): Room;

  /** The file system refused a write: make room (see TierStore). */
  abstract relieveFullDisk(): void;

  /** After a write transaction committed: counters, value files to delete, eviction events. */
  protected abstract afterCommit(removed: Removed): void;

  /** Background work, run by the timer the first connection starts. Never throws. */
  protected abstract maintain(busyMs: number, checkIdentity: boolean): void;

  /** True while a connection is open (the tier was used or opened, and not closed). */
  get connected(): boolean {
    return this.sql !== undefined && !this.closed;
  }

  statements(): Statements {
    if (this.closed) throw new ZarrsCacheError("CLOSED", `the disk tier "${this.config.name}" is closed`);
    if (this.sql === undefined) this.connect();
    return this.sql!;
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

  /** The bound in force changed (another process, a full disk, space back): resize the WAL to match. */
  protected followLimit(limit: number): void {
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

  /** Copies the WAL into the database and truncates it. Best effort: the WAL is reused meanwhile. */
  protected checkpoint(): void {
    try {
      this.connection?.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // Tried again at the next relief.
    }
  }

  /** Deletes the database and every value file and creates them anew (other processes follow, see the README). */
  protected startOver(why: string): void {
    if (this.startingOver) {
      throw new ZarrsCacheError("IO_ERROR", `disk tier "${this.config.name}": ${why}, even after starting the directory over`);
    }
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

  protected settings(): ConnectSettings {
    // Pages still in the WAL are read with one pread each (the main file is memory-mapped), so a
    // small WAL keeps hits fast; it also bounds what the WAL adds to the directory's size.
    return { busyTimeout: this.config.busyTimeout, walBytes: this.walBytes };
  }

  protected connect(): void {
    const { dir, name } = this.config;
    ensureDirectory(dir);
    let connection: Connection;
    try {
      connection = connect(dir, this.settings());
      this.blobs.ensureDir();
    } catch (error) {
      throwIfNativeAddonFailed(error, `disk tier "${name}"`);
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
  protected openTransaction(): void {
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
  protected renewLease(sql: Statements, now: number): void {
    sql.registerOpener.run(this.openerId, this.config.maxBytes, now);
    sql.pruneOpeners.run(now - LEASE_MS);
    sql.updateBound.run();
    this.lastHeartbeat = now;
  }

  protected noteRebuild(why: string): void {
    this.counters.rebuilds++;
    this.epoch++;
    this.suspect = undefined;
    process.emitWarning(`zarrs-cache disk tier "${this.config.name}": the cache database in ${this.config.dir} was created anew (${why})`);
  }

  protected dropConnection(): void {
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
  protected reopen(): void {
    this.dropConnection();
    this.counters.reopens++;
    this.connect();
  }

  /**
   * After SQLite reported damage: the first time on a file, a quick_check decides (rebuild if it
   * fails); if the same file reports damage again, it is rebuilt (quick_check does not see an index
   * that disagrees with its table, the usual cause of repeated SQLITE_CORRUPT_INDEX).
   */
  protected afterCorruption(): void {
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
    // The same file passed its check: damage there again means rebuild. Another file: someone else rebuilt it.
    else {
      const same = failed !== undefined && checked.ino === failed.ino && checked.dev === failed.dev;
      this.suspect = same ? { ino: checked.ino, dev: checked.dev } : undefined;
    }
    this.connect();
  }

  /** Reconnects when the database file was deleted or replaced behind our back. */
  protected checkIdentity(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    const stats = fs.statSync(connection.file, { throwIfNoEntry: false });
    if (stats === undefined || stats.ino !== connection.ino || stats.dev !== connection.dev) this.reopen();
  }

  /** Removes value files no row refers to that are old enough not to be another process's write in progress. */
  protected sweepOrphans(): void {
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
