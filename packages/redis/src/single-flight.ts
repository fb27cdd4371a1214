import type { CacheEntry, TierInvalidation } from "@zarrs-cache/core";
import type { SingleFlightOptions } from "./options.js";
import { wholeMs } from "./entry-format.js";
import type { CommandRunner, RedisClient } from "./runner.js";
import { RELEASE_LOCK } from "./scripts.js";

export interface SingleFlightCounters {
  locksTaken: number;
  lockWaits: number;
  lockWaitHits: number;
  lockWaitTimeouts: number;
  /** Locks taken after another node had just written the value (found by the second look). */
  lateHits: number;
  /** Locks a waiter took over because the holder released it without a value, or it expired. */
  lockTakeovers: number;
  /** Locks this node released because the load they were taken for filled nothing. */
  locksAbandoned: number;
}

/**
 * Cross-process single-flight for misses. After a Redis miss the tier tries `SET lock NX PX`:
 * the winner answers "miss" (its caller loads from upstream and writes back); every other node
 * waits, woken by the winner's bus message or by polling, for at most `wait` ms, then answers
 * with the value or, failing that, "miss" (and loads itself). A waiter that finds the lock gone
 * without a value (the winner's load failed and released it, or the winner died and it expired)
 * takes it over and loads. A node never waits on a lock it holds itself. Nothing here ever fails
 * a read: any Redis error simply means "miss".
 */
export class SingleFlight {
  /**
   * Locks this node holds: key → local expiry (performance.now() clock). Every lock has the same
   * TTL, so insertion order is expiry order and expired entries are pruned from the front.
   */
  private readonly held = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly lockTtl: number;
  private closed = false;

  constructor(
    private readonly settings: Required<SingleFlightOptions>,
    private readonly client: RedisClient,
    private readonly runner: CommandRunner,
    private readonly lockKey: (key: string) => string,
    private readonly token: string,
    private readonly counters: SingleFlightCounters,
  ) {
    this.lockTtl = wholeMs(settings.lockTtl);
  }

  /** Locks held now (expired ones pruned): for tests and stats. */
  get heldCount(): number {
    this.pruneHeld(performance.now());
    return this.held.size;
  }

  /** Called after a miss: resolves with another node's value, or undefined (go load). */
  async afterMiss(key: string, fetch: () => Promise<CacheEntry | undefined>): Promise<CacheEntry | undefined> {
    this.pruneHeld(performance.now());
    // Our own lock: this node's earlier caller is loading, or did not load (a plain get, a failed
    // or uncached load). Waiting on ourselves could only time out.
    if (this.held.has(key)) return undefined;
    const first = await this.tryLock(key, fetch);
    if (first !== "taken") return first === "error" ? undefined : first;
    // Taken by a concurrent call of this same node whose reply came first: ours, do not wait.
    if (this.held.has(key)) return undefined;
    this.counters.lockWaits++;
    const deadline = performance.now() + this.settings.wait;
    while (!this.closed) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.sleep(key, Math.min(this.settings.poll, left));
      if (this.closed) break;
      let entry: CacheEntry | undefined;
      try {
        entry = await fetch();
      } catch {
        return undefined;
      }
      if (entry !== undefined) {
        this.counters.lockWaitHits++;
        return entry;
      }
      // No value yet: is anyone still loading? A lock released without a value (a failed or
      // aborted load) or expired (a node that died) is taken over here, so the next load starts
      // now instead of after `wait`, and still only once across the waiting nodes.
      const again = await this.tryLock(key, fetch);
      if (again === "error") return undefined;
      if (again !== "taken") {
        this.counters.lockTakeovers++;
        return again;
      }
    }
    this.counters.lockWaitTimeouts++;
    return undefined;
  }

  /**
   * `SET lock NX PX`. Acquired: looks once more for the value (another node may have written it
   * and dropped its lock between our GET and our SET NX) and answers it, or undefined: go load.
   * "taken": another node holds the lock. "error": Redis failed (the caller loads).
   */
  private async tryLock(key: string, fetch: () => Promise<CacheEntry | undefined>): Promise<CacheEntry | undefined | "taken" | "error"> {
    // The server's lock expires no earlier than lockTtl after we sent the command.
    const sentAt = performance.now();
    try {
      const reply = await this.runner.run("lock", () => this.client.set(this.lockKey(key), this.token, "PX", this.lockTtl, "NX"));
      if (reply !== "OK") return "taken";
    } catch {
      return "error";
    }
    this.counters.locksTaken++;
    this.held.delete(key);
    this.held.set(key, sentAt + this.lockTtl);
    const late = await fetch().catch(() => undefined);
    if (late !== undefined) {
      this.counters.lateHits++;
      this.release(key);
    }
    return late;
  }

  /**
   * The value is written: drop our lock so later misses of the key do not wait on it. True when
   * this node held the lock (other nodes may be waiting for this value). Compare-and-delete: a
   * lock of ours that expired may since have been taken by another node, and stays theirs.
   */
  release(key: string): boolean {
    return this.unlock(key) !== undefined;
  }

  /**
   * The load this node's lock was taken for ended without a value (failed, aborted, not cached).
   * Resolves true once the lock is gone from Redis, so other nodes can be told to stop waiting;
   * false when this node held no lock for `key` or Redis could not be reached (the lock then
   * expires after lockTtl, and waiters take it over then).
   */
  async abandon(key: string): Promise<boolean> {
    const unlocking = this.unlock(key);
    if (unlocking === undefined) return false;
    this.counters.locksAbandoned++;
    return unlocking;
  }

  /** Compare-and-delete of our lock; undefined when we hold none. Never rejects. */
  private unlock(key: string): Promise<boolean> | undefined {
    if (!this.held.delete(key)) return undefined;
    return this.runner
      .run("unlock", () => RELEASE_LOCK.run(this.client, this.lockKey(key), this.token))
      .then(
        (deleted) => deleted === 1,
        () => false,
      );
  }

  /**
   * An invalidation arrived (another node wrote): wake the waiters it concerns. Returns what the
   * tiers above still need to hear: a key someone here was waiting for is left out, since the
   * waiter now reads the new value (and the cache must not discard that read as stale).
   */
  wake(message: TierInvalidation): TierInvalidation | undefined {
    if (message.kind === "keys") {
      const rest = message.keys.filter((key) => !this.wakeKey(key));
      if (rest.length === message.keys.length) return message;
      return rest.length > 0 ? { kind: "keys", keys: rest } : undefined;
    }
    const prefix = message.kind === "prefix" ? message.prefix : "";
    for (const key of [...this.waiters.keys()]) if (key.startsWith(prefix)) this.wakeKey(key);
    return message;
  }

  /** Values were written (another node's fill, or this node's own write): their waiters read now. */
  wakeKeys(keys: readonly string[]): void {
    for (const key of keys) this.wakeKey(key);
  }

  close(): void {
    this.closed = true;
    for (const key of [...this.waiters.keys()]) this.wakeKey(key);
    this.held.clear();
  }

  private pruneHeld(now: number): void {
    for (const [key, until] of this.held) {
      if (until > now) break;
      this.held.delete(key);
    }
  }

  /** Wakes the waiters of `key`; true if there were any. */
  private wakeKey(key: string): boolean {
    const set = this.waiters.get(key);
    if (!set) return false;
    this.waiters.delete(key);
    for (const wake of set) wake();
    return true;
  }

  private sleep(key: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        const current = this.waiters.get(key);
        if (current?.delete(wake) && current.size === 0) this.waiters.delete(key);
        resolve();
      };
      const wake = () => done();
      const timer = setTimeout(done, ms);
      set.add(wake);
    });
  }
}
