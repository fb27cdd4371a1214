import type { CircuitBreaker, HoldScope } from "@zarrs-cache/core";
import type { InvalidationBus } from "./invalidation-bus.js";
import type { RepairOptions } from "./options.js";
import type { CommandRunner, RedisClient } from "./runner.js";
import { scanBatches, unlinkBatch } from "./scan.js";
import { StaleRecord } from "./stale-record.js";
import { DELETE_TO_TOMBSTONE, RECORD_PREFIX_TOMBSTONE, prefixTombstoneHash } from "./tombstones.js";

export interface RepairCounters {
  /** Recorded keys and prefixes repaired (deleted in Redis and announced on the bus). */
  repairsDone: number;
  /** Repair attempts that failed (Redis still unreachable); retried. */
  repairFailures: number;
  /** Reads answered as misses because the key awaits repair. */
  repairMisses: number;
}

/** A `repair` event: keys/prefixes recorded as possibly stale in Redis ("pending"), or fixed ("repaired"). */
export interface RepairEvent {
  state: "pending" | "repaired";
  keys: string[];
  prefixes: string[];
}

/** Keys replaced by tombstones per batch of pipelined scripts. */
const REPAIR_BATCH = 500;

/**
 * Makes a write that failed to reach Redis (a partition, a timeout, a hung server) safe once
 * Redis is back. While the key is recorded this node reads it as a miss, so neither its callers
 * nor its own L1 get the older shared copy; when Redis answers again (connection ready, breaker
 * closed, or a retry every `retryInterval` ms) it deletes the recorded keys and prefixes from
 * Redis, then publishes their invalidation so other nodes drop their L1 copies, then forgets them.
 * The record lives in this process's memory only.
 */
export class PartitionRepair {
  private readonly record: StaleRecord;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private runAgain = false;
  private closed = false;

  constructor(
    private readonly settings: Required<RepairOptions>,
    private readonly client: RedisClient,
    private readonly runner: CommandRunner,
    private readonly prefix: string,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly bus: InvalidationBus | undefined,
    private readonly counters: RepairCounters,
    private readonly onEvent: (event: RepairEvent) => void,
    /** Repairs leave tombstones like deletes do (see tombstones.ts): ms they live. */
    private readonly tombstoneTtl: number,
  ) {
    this.record = new StaleRecord(settings.maxKeys);
  }

  /** Keys and prefixes waiting for repair. */
  get pending(): number {
    return this.record.size;
  }

  get coarsened(): number {
    return this.record.coarsened;
  }

  /** True when `key` must not be served from Redis (counted as a repair miss). */
  covers(key: string): boolean {
    if (this.record.size === 0 || !this.record.covers(key)) return false;
    this.counters.repairMisses++;
    return true;
  }

  /** True while a failed change of `scope` awaits repair (counts nothing; see CacheTier.repairPending). */
  pendingFor(scope: HoldScope): boolean {
    if (this.record.size === 0) return false;
    return scope.key !== undefined ? this.record.covers(scope.key) : this.record.overlaps(scope.prefix);
  }

  /** The write of `key` may not have reached Redis or the other nodes. */
  staleKey(key: string): void {
    if (this.closed) return;
    this.record.addKey(key);
    this.onEvent({ state: "pending", keys: [key], prefixes: [] });
    this.schedule(this.settings.retryInterval);
  }

  /** The invalidation of `prefix` may not have reached Redis or the other nodes. */
  stalePrefix(prefix: string): void {
    if (this.closed) return;
    this.record.addPrefix(prefix);
    this.onEvent({ state: "pending", keys: [], prefixes: [prefix] });
    this.schedule(this.settings.retryInterval);
  }

  /** Redis may be reachable again (connection ready, breaker closed): repair now. */
  repairSoon(): void {
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delay: number): void {
    if (this.closed || this.record.size === 0) return;
    if (this.running) {
      if (delay === 0) this.runAgain = true;
      return;
    }
    if (this.timer !== undefined) {
      if (delay !== 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delay);
    this.timer.unref?.();
  }

  private async run(): Promise<void> {
    if (this.closed || this.record.size === 0) return;
    if (this.breaker !== undefined && !this.breaker.closed) {
      // Callers are refused while the breaker is open whatever the probe does, so with repairs
      // pending it probes every retryInterval rather than after the whole cooldown. Only over a
      // live connection (a hung or cut-off server): a new connection probes at once when ready.
      if (this.client.status === "ready") this.breaker.probeSoon();
      return this.schedule(this.settings.retryInterval);
    }
    if (this.client.status !== "ready") return this.schedule(this.settings.retryInterval);
    this.running = true;
    this.runAgain = false;
    const snapshot = this.record.snapshot();
    const keys = snapshot.keys.map(([key]) => key);
    const prefixes = snapshot.prefixes.map(([prefix]) => prefix);
    let repaired = false;
    try {
      // Deleted before announced: a node that drops its copy on the message then misses in Redis too.
      await this.tombstoneKeys(keys);
      for (const prefix of prefixes) await this.unlinkPrefix(prefix);
      await this.bus?.announce(keys, prefixes);
      repaired = true;
    } catch {
      // Counted by the runner (or the bus) as errors; retried below.
      this.counters.repairFailures++;
    }
    this.running = false;
    if (repaired && !this.closed) {
      this.counters.repairsDone += this.record.forget(snapshot);
      // This node's tiers above Redis too: a sibling process may have copied the old value into a
      // shared one. Delivered once forgotten, so that the TieredCache, on this message, finds the
      // repair done and releases its holds of those keys (see CacheTier.hold).
      this.bus?.deliverRepaired(keys, prefixes);
      this.onEvent({ state: "repaired", keys, prefixes });
    }
    this.schedule(this.runAgain ? 0 : this.settings.retryInterval);
  }

  /** Replaces each key by a tombstone (a fill of the old value still in flight cannot land after the repair). */
  private async tombstoneKeys(keys: string[]): Promise<void> {
    const client = this.client;
    for (let i = 0; i < keys.length; i += REPAIR_BATCH) {
      // One script each (keys live in many slots on a Cluster), auto-pipelined.
      const batch = keys.slice(i, i + REPAIR_BATCH);
      await Promise.all(
        batch.map((key) => this.runner.run("repair", () => DELETE_TO_TOMBSTONE.run(client, [this.prefix + key], [this.tombstoneTtl]))),
      );
    }
  }

  private async unlinkPrefix(prefix: string): Promise<void> {
    const hash = prefixTombstoneHash(this.prefix);
    await this.runner.run("repair", () => RECORD_PREFIX_TOMBSTONE.run(this.client, [hash], [prefix, this.tombstoneTtl]));
    for await (const { node, keys } of scanBatches(this.runner, this.client, this.prefix + prefix)) {
      await unlinkBatch(this.runner, this.client, node, keys);
    }
  }
}
