import type { TierInvalidation } from "@zarrs-cache/core";
import { decodeKey } from "./keys.js";
import type { Statements } from "./statements.js";
import type { TierStore } from "./tier-store.js";

/** What a row of the `changes` table records. */
export const ChangeKind = {
  /** A key was written (not a read-through fill) or deleted. */
  Key: 0,
  /** Every key under a prefix was deleted. */
  Prefix: 1,
  /** The directory was cleared. */
  Clear: 2,
  /** A single-flight lease was released (its waiters look again); not an invalidation. */
  Released: 3,
} as const;

/** Most log rows read per poll; a longer backlog is answered with "all". */
const PAGE = 1000;

export interface FeedCounters {
  /** Invalidations of other processes reported to the tiers above. */
  remoteInvalidations: number;
  /** Times the log could not be followed (rows pruned before they were read, the file recreated): everything above was dropped. */
  feedResyncs: number;
}

/** What one poll found, for the single-flight waiters (every row of other processes, releases included). */
export interface FeedBatch {
  keys: readonly string[];
  prefixes: readonly string[];
  all: boolean;
}

/**
 * Follows the `changes` log other processes write in the same transactions as their writes,
 * deletes, prefix deletes and clears. A poll costs one `PRAGMA data_version` (unchanged unless
 * another connection committed) and, only when it changed, one indexed range read of the new
 * rows. Polled on a timer while someone listens (`interval`) and by the single-flight waiters,
 * never on a read.
 */
export class ChangeFeed {
  private listeners: ((message: TierInvalidation) => void)[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The statements of the connection `seq` belongs to: a new connection (a reopened or recreated file) resyncs. */
  private sql: Statements | undefined;
  private version: unknown;
  private seq = 0;

  constructor(
    private readonly store: TierStore,
    private readonly origin: string,
    private readonly interval: number,
    private readonly counters: FeedCounters,
    private readonly onBatch: (batch: FeedBatch) => void,
  ) {}

  /** Starts following the log (from now) and reports other processes' changes to `listener`. */
  subscribe(listener: (message: TierInvalidation) => void): () => void {
    this.listeners = [...this.listeners, listener];
    if (this.timer === undefined && this.interval > 0) {
      this.timer = setInterval(() => this.poll(), this.interval);
      // Following the log never keeps a process alive.
      this.timer.unref();
    }
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      if (this.listeners.length === 0) this.stop();
    };
  }

  /** Notes where the log ends now (the tier is open), so that only later changes are reported. */
  start(): void {
    try {
      if (this.sql === undefined) this.resync(this.store.statements(), false);
    } catch {
      // The first poll tries again.
    }
  }

  /** Reads what other processes changed since the last poll and reports it. Never throws. */
  poll(): void {
    // Polling never opens the database: a tier nobody opened or used has nothing to follow yet.
    if (!this.store.connected) return;
    let sql: Statements;
    try {
      sql = this.store.readStatements();
      if (sql !== this.sql) {
        this.resync(sql, this.sql !== undefined);
        return;
      }
      const version = sql.dataVersion.get();
      if (version === this.version) return;
      this.version = version;
      const rows = sql.changesSince.all(this.seq, PAGE) as [number, string, number, Buffer][];
      const last = rows.length === 0 ? undefined : rows[rows.length - 1]![0];
      // Rows pruned before this process read them, or more than one page behind: report everything.
      if (rows.length === PAGE || (rows.length > 0 && rows[0]![0] !== this.seq + 1)) {
        this.resync(sql, true);
        return;
      }
      if (last === undefined) {
        // Nothing new in the log; a sequence that moved on means rows were written and pruned unseen.
        if (sql.lastChange.get() !== this.seq) this.resync(sql, true);
        return;
      }
      this.seq = last;
      this.dispatch(rows);
    } catch {
      this.store.counters.errors++;
    }
  }

  private dispatch(rows: [number, string, number, Buffer][]): void {
    const keys: string[] = [];
    const prefixes: string[] = [];
    let all = false;
    const invalidations: TierInvalidation[] = [];
    let changedKeys: string[] | undefined;
    for (const [, origin, kind, key] of rows) {
      if (origin === this.origin) continue;
      if (kind === ChangeKind.Clear) {
        all = true;
        continue;
      }
      const decoded = decodeKey(key);
      if (kind === ChangeKind.Prefix) {
        prefixes.push(decoded);
        invalidations.push({ kind: "prefix", prefix: decoded });
        continue;
      }
      keys.push(decoded);
      if (kind === ChangeKind.Key) (changedKeys ??= []).push(decoded);
    }
    if (keys.length === 0 && prefixes.length === 0 && !all) return;
    this.onBatch({ keys, prefixes, all });
    if (all) this.report({ kind: "all" });
    else {
      if (changedKeys !== undefined) this.report({ kind: "keys", keys: changedKeys });
      for (const message of invalidations) this.report(message);
    }
  }

  /** Follows a new connection or recovers from a gap: from the end of the log, dropping everything above when asked. */
  private resync(sql: Statements, dropAll: boolean): void {
    this.sql = sql;
    this.version = sql.dataVersion.get();
    this.seq = sql.lastChange.get() as number;
    if (!dropAll) return;
    this.counters.feedResyncs++;
    this.onBatch({ keys: [], prefixes: [], all: true });
    this.report({ kind: "all" });
  }

  private report(message: TierInvalidation): void {
    if (this.listeners.length === 0) return;
    this.counters.remoteInvalidations++;
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch {
        // A faulty listener must not stop the others.
      }
    }
  }

  /** Stops the timer (the single-flight waiters may still poll). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.listeners = [];
  }
}
