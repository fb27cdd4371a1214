import fs from "node:fs";
import os from "node:os";
import type { CacheEntry } from "@zarrs-cache/core";
import { ChangeKind, type ChangeFeed, type FeedBatch } from "./change-feed.js";
import type { Statements } from "./statements.js";
import type { TierStore } from "./tier-store.js";

export interface LeaseSettings {
  leaseTtl: number;
  wait: number;
  poll: number;
}

export interface LeaseCounters {
  /** Leases this process took (it then loaded the key from upstream). */
  leasesTaken: number;
  /** Misses that waited for another process's load. */
  leaseWaits: number;
  /** Waits that ended with the other process's value. */
  leaseWaitHits: number;
  /** Leases taken over from an owner that released without a value, died, or let it expire. */
  leaseTakeovers: number;
  /** Waits that ran out (`wait`); the waiter then loaded itself. */
  leaseTimeouts: number;
  /** Leases released because their load filled nothing (`loadSettled`) or the fill failed. */
  leasesAbandoned: number;
}

/** How often a waiter looks at the lease itself, in ms: an owner that died is noticed this soon. */
const RECHECK_MS = 50;
/** Past this many leases held, expired ones are forgotten (loads that never settled). */
const PRUNE_AT = 1024;
const HOST = os.hostname();

type Lease = [owner: string, pid: number, host: string, expiresAt: number];
type Attempt = { entry: CacheEntry } | "acquired" | "taken" | "failed";

/**
 * Cross-process single-flight over the shared directory. After a miss of a read that will load
 * (`get(key, { load: true })`), the process takes a lease on the key (a row naming it, its pid
 * and host, and an expiry) in a write transaction that also looks for the value once more; the
 * winner's caller loads, every other process waits for the value. A lease ends when the winner's
 * fill commits (same transaction), when its load settles without a fill (`loadSettled`), when
 * the tier closes, when its pid is gone from this host, or at its expiry; a waiter then reads
 * the value or takes the lease over. Waiters are woken by the release row in the change log
 * (polled every `poll` ms while anyone waits), look at the lease every 50 ms, and give up after
 * `wait` ms (then they load themselves). Nothing here fails a read: any error means "load".
 */
export class Leases {
  /** Leases this process holds: key → expiry (Date.now clock). Same TTL for all: insertion order is expiry order. */
  private readonly held = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    private readonly store: TierStore,
    private readonly settings: LeaseSettings,
    private readonly origin: string,
    private readonly counters: LeaseCounters,
    private readonly feed: ChangeFeed,
    private readonly read: (encoded: Buffer) => CacheEntry | undefined,
  ) {}

  /** Leases held now, for stats. */
  get heldCount(): number {
    this.prune(Date.now());
    return this.held.size;
  }

  /** Called after a miss of a loading read: another process's value, or undefined (go load). */
  async afterMiss(key: string, encoded: Buffer): Promise<CacheEntry | undefined> {
    // Ours already: an earlier read of this process is loading, or gave up; waiting on ourselves could only time out.
    if (this.holds(key)) return undefined;
    // Follow the log from before the attempt, so a release right after it wakes us.
    this.feed.start();
    const first = this.attempt(key, encoded);
    if (first !== "taken") return typeof first === "object" ? first.entry : undefined;
    this.counters.leaseWaits++;
    const deadline = Date.now() + this.settings.wait;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.sleep(key, Math.min(RECHECK_MS, left));
      if (this.closed) break;
      let entry: CacheEntry | undefined;
      try {
        entry = this.read(encoded);
      } catch {
        return undefined;
      }
      if (entry !== undefined) {
        this.counters.leaseWaitHits++;
        return entry;
      }
      // No value yet: a plain read first; the write lock only when the lease looks free.
      if (!this.looksFree(encoded)) continue;
      const again = this.attempt(key, encoded);
      if (again === "taken") continue;
      if (again === "failed") return undefined;
      if (again === "acquired") {
        this.counters.leaseTakeovers++;
        return undefined;
      }
      this.counters.leaseWaitHits++;
      return again.entry;
    }
    this.counters.leaseTimeouts++;
    return undefined;
  }

  /**
   * Inside the write transaction of a set of `key`: drops this process's lease on it and logs the
   * release, so waiters read the value now. True when a lease was held (call `settled` after commit).
   */
  releaseIn(sql: Statements, key: string, encoded: Buffer, now: number): boolean {
    if (!this.held.has(key)) return false;
    if (sql.dropLease.get(encoded, this.origin) !== undefined) sql.logChange.run(this.origin, ChangeKind.Released, encoded, now);
    return true;
  }

  /** The transaction that released `key` committed. */
  settled(key: string): void {
    this.held.delete(key);
  }

  /** The load the lease was taken for ended without a value (or its fill failed): release it in a transaction of its own. */
  abandon(key: string, encoded: Buffer): void {
    if (!this.held.delete(key)) return;
    this.counters.leasesAbandoned++;
    try {
      this.store.write(
        "release",
        (sql) => {
          if (sql.dropLease.get(encoded, this.origin) !== undefined)
            sql.logChange.run(this.origin, ChangeKind.Released, encoded, Date.now());
        },
        { relieve: false },
      );
    } catch {
      // The lease lapses on its own (expiry), and waiters of this host see this process alive but not loading only until then.
    }
  }

  /** True while this process holds an unexpired lease on `key`. */
  holds(key: string): boolean {
    const until = this.held.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.held.delete(key);
    return false;
  }

  /** A poll of the change log found rows of other processes: wake the waiters they concern. */
  readonly wake = (batch: FeedBatch): void => {
    if (this.waiters.size === 0) return;
    if (batch.all) {
      for (const key of [...this.waiters.keys()]) this.wakeKey(key);
      return;
    }
    for (const key of batch.keys) this.wakeKey(key);
    for (const prefix of batch.prefixes) for (const key of [...this.waiters.keys()]) if (key.startsWith(prefix)) this.wakeKey(key);
  };

  /** Wakes every waiter (they load themselves) and releases every lease this process holds. */
  close(): void {
    this.closed = true;
    for (const key of [...this.waiters.keys()]) this.wakeKey(key);
    this.stopTicker();
    if (this.held.size === 0) return;
    this.held.clear();
    try {
      this.store.write(
        "release",
        (sql) => {
          const now = Date.now();
          for (const key of sql.dropOwnLeases.all(this.origin) as Buffer[]) sql.logChange.run(this.origin, ChangeKind.Released, key, now);
        },
        { relieve: false },
      );
    } catch {
      // They lapse: this process is closing, and waiters on this host notice its pid gone once it exits.
    }
  }

  /**
   * One write transaction: the value is there now (another process filled it since our miss),
   * or the lease is free (none, ours, expired, or its owner is gone) and becomes ours, or it is taken.
   */
  private attempt(key: string, encoded: Buffer): Attempt {
    const now = Date.now();
    let outcome: "late" | "acquired" | "taken";
    try {
      outcome = this.store.write(
        "lease",
        (sql) => {
          const row = sql.peekExpiry.get(encoded) as [number | null] | undefined;
          if (row !== undefined && (row[0] === null || row[0] > now)) return "late";
          const lease = sql.leaseOf.get(encoded) as Lease | undefined;
          if (lease !== undefined && !this.isFree(lease, now)) return "taken";
          sql.takeLease.run(encoded, this.origin, process.pid, HOST, now + this.settings.leaseTtl);
          return "acquired";
        },
        { relieve: false },
      );
    } catch {
      return "failed";
    }
    if (outcome === "taken") return "taken";
    if (outcome === "late") {
      const entry = this.safeRead(encoded);
      return entry === undefined ? "failed" : { entry };
    }
    if (this.held.size >= PRUNE_AT) this.prune(now);
    this.held.delete(key);
    this.held.set(key, now + this.settings.leaseTtl);
    this.counters.leasesTaken++;
    return "acquired";
  }

  private safeRead(encoded: Buffer): CacheEntry | undefined {
    try {
      return this.read(encoded);
    } catch {
      return undefined;
    }
  }

  private looksFree(encoded: Buffer): boolean {
    try {
      const lease = this.store.readStatements().leaseOf.get(encoded) as Lease | undefined;
      return lease === undefined || this.isFree(lease, Date.now());
    } catch {
      return true;
    }
  }

  private isFree([owner, pid, host, expiresAt]: Lease, now: number): boolean {
    if (owner === this.origin || expiresAt <= now) return true;
    // Another tier of this very process (its pid is ours and alive), or another host: only the expiry tells.
    if (host !== HOST || pid === process.pid) return false;
    return !isAlive(pid);
  }

  private prune(now: number): void {
    for (const [key, until] of this.held) {
      if (until > now) break;
      this.held.delete(key);
    }
  }

  private wakeKey(key: string): void {
    const set = this.waiters.get(key);
    if (set === undefined) return;
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  private sleep(key: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (set === undefined) this.waiters.set(key, (set = new Set()));
      const wake = () => {
        clearTimeout(timer);
        const current = this.waiters.get(key);
        if (current?.delete(wake) && current.size === 0) this.waiters.delete(key);
        if (this.waiters.size === 0) this.stopTicker();
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
      // While anyone waits, the change log is polled every `poll` ms for releases.
      this.ticker ??= setInterval(() => this.feed.poll(), this.settings.poll);
    });
  }

  private stopTicker(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}

/**
 * True when a process with this pid runs on this host (EPERM: it exists, owned by another user).
 * On Linux a zombie (killed, not yet reaped by its parent) counts as gone.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  if (process.platform !== "linux") return true;
  try {
    // The state follows the command name in parentheses, which may itself contain ") ".
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true;
  }
}
