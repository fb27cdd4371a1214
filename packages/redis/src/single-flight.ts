import type { CacheEntry, TierInvalidation } from "@zarrs-cache/core";
import type { SingleFlightOptions } from "./options.js";
import type { CommandRunner, RedisClient } from "./runner.js";

export interface SingleFlightCounters {
  locksTaken: number;
  lockWaits: number;
  lockWaitHits: number;
  lockWaitTimeouts: number;
  /** Locks taken after another node had just written the value (found by the second look). */
  lateHits: number;
}

/**
 * Cross-process single-flight for misses. After a Redis miss the tier tries `SET lock NX PX`:
 * the winner answers "miss" (its caller loads from upstream and writes back); every other node
 * waits, woken by the winner's invalidation message or by polling, for at most `wait` ms, then
 * answers with the value or, failing that, "miss" (and loads itself). Nothing here ever fails a
 * read: any Redis error simply means "miss".
 */
export class SingleFlight {
  /** Locks this node holds: key → local expiry time. */
  private readonly held = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly settings: Required<SingleFlightOptions>,
    private readonly client: RedisClient,
    private readonly runner: CommandRunner,
    private readonly lockKey: (key: string) => string,
    private readonly token: string,
    private readonly counters: SingleFlightCounters,
  ) {}

  /** Called after a miss: resolves with another node's value, or undefined (go load). */
  async afterMiss(key: string, fetch: () => Promise<CacheEntry | undefined>): Promise<CacheEntry | undefined> {
    let acquired: boolean;
    try {
      const reply = await this.runner.run("lock", () => this.client.set(this.lockKey(key), this.token, "PX", this.settings.lockTtl, "NX"));
      acquired = reply === "OK";
    } catch {
      return undefined;
    }
    if (acquired) {
      this.counters.locksTaken++;
      this.held.set(key, Date.now() + this.settings.lockTtl);
      // Another node may have written the value (and dropped its lock) between our GET and our
      // SET NX: look once more before sending the caller upstream.
      const late = await fetch().catch(() => undefined);
      if (late !== undefined) {
        this.counters.lateHits++;
        this.release(key);
      }
      return late;
    }
    this.counters.lockWaits++;
    const deadline = Date.now() + this.settings.wait;
    while (!this.closed) {
      const left = deadline - Date.now();
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
    }
    this.counters.lockWaitTimeouts++;
    return undefined;
  }

  /** The value is written: drop our lock early so later misses of the key do not wait on it. */
  release(key: string): void {
    const until = this.held.get(key);
    if (until === undefined) return;
    this.held.delete(key);
    if (until <= Date.now()) return;
    this.runner.run("unlock", () => this.client.del(this.lockKey(key))).catch(() => undefined);
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

  close(): void {
    this.closed = true;
    for (const key of [...this.waiters.keys()]) this.wakeKey(key);
    this.held.clear();
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
