import type { PluginContext, PrefetchOutcome, PrefetchTarget, ZarrArray } from "@zarrs-cache/core";
import { emptyStrategyStats, type StrategyStats, type WarmingStrategy } from "./types.js";

/** The bounds of speculative work. */
export interface Budget {
  /** Prefetch loads at once (default 8; keep it below what the upstream serves at once). */
  maxInFlight: number;
  /** Candidates waiting for a free slot; more are dropped (default 256). */
  maxQueued: number;
  /** Bytes loaded ahead and not yet read; while above, nothing new is issued (default 64 MiB). */
  maxUnreadBytes: number;
}

/** Who asked for a key: a strategy, or `warmKeys` / `warmRegion` (stats only). */
export interface Requester {
  readonly name: string;
  readonly priority: number;
  readonly strategy?: WarmingStrategy;
}

interface Tracked {
  readonly key: string;
  readonly by: Requester;
  readonly array: ZarrArray | undefined;
  state: "queued" | "loading" | "unread";
  bytes: number;
  controller?: AbortController;
  /** A reader asked while it was queued or loading. */
  demanded: boolean;
}

/**
 * Turns candidate keys into prefetches within the budget, and follows each until it is read
 * (used), dropped unread (wasted) or stopped (cancelled). One entry per key: a key already
 * queued, loading or loaded-and-unread is not asked for again.
 */
export class Scheduler {
  private readonly tracked = new Map<string, Tracked>();
  private readonly queue: Tracked[] = [];
  private readonly counters = new Map<string, StrategyStats>();
  private inFlight = 0;
  private unreadBytes = 0;
  private paused = false;
  private working = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly context: PluginContext,
    private readonly budget: Budget,
    private readonly target: PrefetchTarget,
    names: readonly string[] = [],
  ) {
    for (const name of names) this.stats(name);
  }

  stats(name: string): StrategyStats {
    let stats = this.counters.get(name);
    if (stats === undefined) this.counters.set(name, (stats = emptyStrategyStats()));
    return stats;
  }

  allStats(): Record<string, StrategyStats> {
    return Object.fromEntries([...this.counters].map(([name, stats]) => [name, { ...stats }]));
  }

  /** Bytes loaded ahead and not read yet. */
  get unread(): number {
    return this.unreadBytes;
  }

  /** Queues keys (best first); returns how many were taken. */
  offer(keys: readonly string[], by: Requester, array?: ZarrArray): number {
    let taken = 0;
    for (const key of keys) {
      if (this.tracked.has(key)) continue;
      if (this.context.holds(key)) continue; // already in L1: nothing to do, nothing to count
      if (this.queue.length >= this.budget.maxQueued || this.unreadBytes >= this.budget.maxUnreadBytes) {
        this.stats(by.name).dropped++;
        continue;
      }
      const entry: Tracked = { key, by, array, state: "queued", bytes: 0, demanded: false };
      this.tracked.set(key, entry);
      this.enqueue(entry);
      taken++;
    }
    this.pump();
    return taken;
  }

  /** A demand read of `key`: settles a prefetch of it as used (or late). */
  demandRead(key: string): void {
    const entry = this.tracked.get(key);
    if (entry === undefined) return;
    if (entry.state === "queued") {
      // The reader loads it itself: nothing was prefetched.
      this.tracked.delete(key);
      const i = this.queue.indexOf(entry);
      if (i !== -1) this.queue.splice(i, 1);
      this.settleIdle();
    } else if (entry.state === "loading") {
      entry.demanded = true;
    } else {
      this.tracked.delete(key);
      this.unreadBytes -= entry.bytes;
      const stats = this.stats(entry.by.name);
      stats.used++;
      stats.bytesUsed += entry.bytes;
      this.fate(entry, "used");
      this.pump();
    }
  }

  /** A prefetched key left the cache before anyone read it (evicted, or a reader missed it). */
  dropped(key: string): void {
    const entry = this.tracked.get(key);
    if (entry === undefined || entry.state !== "unread") return;
    this.tracked.delete(key);
    this.unreadBytes -= entry.bytes;
    this.stats(entry.by.name).wasted++;
    this.fate(entry, "wasted");
    this.pump();
  }

  /** Counts the outcomes of a prefetch made elsewhere (`warmKeys`, `warmRegion`) and follows what it loaded. */
  account(by: Requester, outcome: PrefetchOutcome): void {
    const stats = this.stats(by.name);
    stats.issued++;
    this.count(stats, outcome);
    if (outcome.status === "loaded" && !outcome.late && !this.tracked.has(outcome.key)) {
      this.tracked.set(outcome.key, { key: outcome.key, by, array: undefined, state: "unread", bytes: outcome.bytes, demanded: false });
      this.unreadBytes += outcome.bytes;
    }
  }

  pause(): void {
    this.paused = true;
    for (const entry of this.queue.splice(0)) this.tracked.delete(entry.key);
    for (const entry of this.tracked.values()) if (entry.state === "loading") entry.controller?.abort();
    this.settleIdle();
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Resolves once nothing is queued or loading. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0 && this.working === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Work that may still offer keys (a shard index being read); `idle` callers wait for it too. */
  track(work: Promise<unknown>): void {
    this.working++;
    void work.finally(() => {
      this.working--;
      this.settleIdle();
    });
  }

  close(): void {
    this.pause();
  }

  private enqueue(entry: Tracked): void {
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.by.priority < entry.by.priority) i--;
    this.queue.splice(i, 0, entry);
  }

  private pump(): void {
    while (
      !this.paused &&
      this.inFlight < this.budget.maxInFlight &&
      this.queue.length > 0 &&
      this.unreadBytes < this.budget.maxUnreadBytes
    ) {
      this.issue(this.queue.shift()!);
    }
    if (this.queue.length > 0 && this.unreadBytes >= this.budget.maxUnreadBytes) {
      // Over the cap: what waits would only add unread bytes.
      for (const entry of this.queue.splice(0)) {
        this.tracked.delete(entry.key);
        this.stats(entry.by.name).dropped++;
      }
    }
    this.settleIdle();
  }

  private issue(entry: Tracked): void {
    entry.state = "loading";
    entry.controller = new AbortController();
    this.inFlight++;
    this.stats(entry.by.name).issued++;
    const options = { kind: "chunk" as const, signal: entry.controller.signal, priority: entry.by.priority, target: this.target };
    this.context.prefetch([entry.key], options).then(
      ([outcome]) => this.landed(entry, outcome),
      (error: unknown) => {
        this.context.reportError("warming", entry.key, error);
        this.landed(entry, undefined);
      },
    );
  }

  private landed(entry: Tracked, outcome: PrefetchOutcome | undefined): void {
    this.inFlight--;
    const stats = this.stats(entry.by.name);
    if (outcome === undefined) {
      stats.failed++;
      this.tracked.delete(entry.key);
    } else {
      const late = outcome.late || (entry.demanded && outcome.status === "loaded");
      if (outcome.status === "cancelled" && entry.demanded) {
        // A reader joined the load, then the prefetch was called off: the reader carried it on.
        this.count(stats, { ...outcome, status: "loaded", late: true });
      } else this.count(stats, { ...outcome, late });
      if (outcome.status === "loaded" && !late) {
        entry.state = "unread";
        entry.bytes = outcome.bytes;
        this.unreadBytes += outcome.bytes;
      } else {
        this.tracked.delete(entry.key);
        if (late) this.fate(entry, "late");
      }
    }
    this.pump();
  }

  private count(stats: StrategyStats, outcome: PrefetchOutcome): void {
    switch (outcome.status) {
      case "loaded":
      case "absent":
        stats.loaded++;
        stats.bytesLoaded += outcome.bytes;
        if (outcome.late) {
          stats.late++;
          stats.used++;
          stats.bytesUsed += outcome.bytes;
        }
        break;
      case "cached":
        stats.alreadyCached++;
        break;
      case "cancelled":
        stats.cancelled++;
        break;
      default:
        stats.failed++;
    }
  }

  private fate(entry: Tracked, fate: "used" | "late" | "wasted"): void {
    try {
      entry.by.strategy?.onFate?.(fate, entry.array);
    } catch (error) {
      this.context.reportError("warming", entry.key, error);
    }
  }

  private settleIdle(): void {
    if (this.idleWaiters.length === 0 || this.queue.length > 0 || this.inFlight > 0 || this.working > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
