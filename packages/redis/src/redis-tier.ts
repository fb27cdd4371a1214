import {
  type CacheEntry,
  type CacheTier,
  Emitter,
  type SetOptions,
  type TierInvalidation,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertSetOptions,
  assertValue,
} from "@zarrs-cache/core";
import { BREAKER_STATE_GAUGE, type BreakerState, CircuitBreaker } from "./breaker.js";
import { closeClient, createClient, isCluster } from "./connect.js";
import { MAX_PX, decodeEntry, encodeEntry, expiryHeader, wholeMs } from "./entry-format.js";
import { InvalidationBus } from "./invalidation-bus.js";
import { type RedisTierOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { CommandRunner, type RedisClient } from "./runner.js";
import { scanBatches, unlinkBatch } from "./scan.js";
import { DELETE_IF_HEADER } from "./scripts.js";
import { SingleFlight } from "./single-flight.js";

/** Events of a RedisTier (`tier.events.on(...)`). A TieredCache reports failed calls itself too. */
export interface RedisTierEvents {
  /** A command failed or timed out, or the connection reported an error. */
  error: { operation: string; error: unknown };
  /** The circuit breaker changed state. */
  breaker: { state: BreakerState; previous: BreakerState };
  /** An invalidation from another node, or a resync (`{ kind: "all" }`) after messages may have been missed. */
  invalidation: { message: TierInvalidation; source: "remote" | "resync" };
}

/** A RedisTier's counters. `entries` and `bytes` stay undefined: a shared Redis cannot know them cheaply. */
export interface RedisTierStats extends TierStats {
  /** Calls that timed out (also counted in `errors`). */
  timeouts: number;
  /** Calls refused at once by the open circuit breaker (not counted in `errors`). */
  rejected: number;
  /** Values found that this tier did not write (foreign or damaged), answered as misses. */
  corrupt: number;
  /** Errors the connection reported (failed connects, resets). */
  connectionErrors: number;
  /** Invalidation messages sent / failed to send / received from other nodes / unreadable. */
  published: number;
  publishErrors: number;
  received: number;
  badMessages: number;
  /** `{ kind: "all" }` sent to the tiers above after messages may have been missed. */
  resyncs: number;
  /** Times the bus subscription was lost. */
  subscriberLosses: number;
  /** Single-flight: locks taken, waits for another node, waits that got its value, waits that gave up. */
  locksTaken: number;
  lockWaits: number;
  lockWaitHits: number;
  lockWaitTimeouts: number;
  /** Single-flight: values found by the second look right after taking a lock (another node had just written). */
  lateHits: number;
  /** Single-flight: locks this node holds now (a gauge). */
  locksHeld: number;
  /** Times the breaker opened. */
  breakerOpens: number;
  /** The breaker now: 0 closed, 1 half-open, 2 open. */
  breakerState: number;
}

/** Options of `RedisTier.get` beyond the CacheTier contract. */
export interface RedisGetOptions {
  /**
   * `false`: the caller will not load the value on a miss (a plain lookup), so with
   * `singleFlight` the miss takes no lock and waits for no other node. Default: it may load.
   */
  load?: boolean;
}

/** Most keys per MGET: bounds the reply size of one command. */
const MGET_BATCH = 256;

/**
 * A shared Redis (or Redis Cluster) tier. Values are stored as bytes with a small header carrying
 * the absolute expiry (see entry-format.ts); TTLs are also set in Redis with PX. Every call is
 * bounded by `commandTimeout` and guarded by a circuit breaker, and fails with a ZarrsCacheError
 * (TIER_UNAVAILABLE, TIMEOUT) rather than hang; a TieredCache turns that into a miss.
 */
export class RedisTier implements CacheTier {
  readonly name: string;
  readonly events = new Emitter<RedisTierEvents>();
  /** The ioredis client (yours if you passed `client`). */
  readonly client: RedisClient;

  private readonly options: ResolvedOptions;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly runner: CommandRunner;
  private readonly breaker: CircuitBreaker | undefined;
  private readonly bus: InvalidationBus | undefined;
  private readonly flight: SingleFlight | undefined;
  private readonly onClientError: (error: unknown) => void;
  private readonly counters = {
    hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0, timeouts: 0, rejected: 0, corrupt: 0,
    connectionErrors: 0, published: 0, publishErrors: 0, received: 0, badMessages: 0, resyncs: 0, subscriberLosses: 0,
    locksTaken: 0, lockWaits: 0, lockWaitHits: 0, lockWaitTimeouts: 0, lateHits: 0,
  };
  private closed = false;

  constructor(options: RedisTierOptions = {}) {
    this.options = resolveOptions(options);
    this.name = this.options.name;
    this.prefix = this.options.keyPrefix;
    const { client, owned } = createClient(this.options);
    this.client = client;
    this.owned = owned;
    // Also keeps ioredis from printing "Unhandled error event" while Redis is down.
    this.onClientError = (error) => {
      this.counters.connectionErrors++;
      if (this.events.has("error")) this.events.emit("error", { operation: "connection", error });
    };
    client.on("error", this.onClientError);

    const label = `redis tier "${this.name}"`;
    if (this.options.breaker) {
      this.breaker = new CircuitBreaker(this.options.breaker, () => this.runner.probe(() => this.client.ping()), (state, previous) => this.onBreaker(state, previous));
    }
    this.runner = new CommandRunner(client, this.options.commandTimeout, label, this.breaker, this.counters, (operation, error) => {
      if (this.events.has("error")) this.events.emit("error", { operation, error });
    });
    if (this.options.bus) {
      this.bus = new InvalidationBus(client, this.runner, this.options.bus.channel, this.prefix, this.options.connectTimeout, this.counters, (message, source) => {
        if (this.events.has("invalidation")) this.events.emit("invalidation", { message, source });
        return this.flight === undefined ? message : this.flight.wake(message);
      }, (keys) => this.flight?.wakeKeys(keys));
    }
    if (this.options.singleFlight) {
      const token = this.bus?.nodeId ?? `${process.pid}-${Math.random()}`;
      const lockPrefix = `zarrs-cache:lock:${this.prefix}`;
      this.flight = new SingleFlight(this.options.singleFlight, client, this.runner, (key) => lockPrefix + key, token, this.counters);
      // Waiters are woken by the writer's invalidation message, so listen from the start.
      this.bus?.start();
    }
  }

  /** "closed", "open" or "half-open" ("closed" when the breaker is disabled). */
  get breakerState(): BreakerState {
    return this.breaker?.state ?? "closed";
  }

  /** True while the invalidation bus has a live subscription. */
  get busSubscribed(): boolean {
    return this.bus?.isSubscribed ?? false;
  }

  get(key: string, options?: RedisGetOptions): Promise<CacheEntry | undefined> {
    try {
      this.assertOpen();
      assertKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    // The hot path: one command, no extra async layers.
    const found = this.fetch(key);
    return this.flight === undefined || options?.load === false ? found.then(this.countLookup) : this.getWithSingleFlight(key, found);
  }

  private readonly countLookup = (entry: CacheEntry | undefined): CacheEntry | undefined => {
    if (entry === undefined) this.counters.misses++;
    else this.counters.hits++;
    return entry;
  };

  private async getWithSingleFlight(key: string, found: Promise<CacheEntry | undefined>): Promise<CacheEntry | undefined> {
    const entry = (await found) ?? (await this.flight!.afterMiss(key, () => this.fetch(key)));
    return this.countLookup(entry);
  }

  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    this.assertOpen();
    if (!Array.isArray(keys)) throw new ZarrsCacheError("INVALID_ARGUMENT", "getMany(keys) needs an array of keys");
    for (const key of keys) assertKey(key);
    let stored: (Buffer | null)[];
    if (isCluster(this.client)) {
      // Keys of one batch live in many slots: one GET each, auto-pipelined per node.
      const cluster = this.client;
      stored = await Promise.all(keys.map((key) => this.runner.run("get", () => cluster.getBuffer(this.prefix + key))));
    } else {
      const client = this.client;
      const batches: Promise<(Buffer | null)[]>[] = [];
      for (let i = 0; i < keys.length; i += MGET_BATCH) {
        const full = keys.slice(i, i + MGET_BATCH).map((key) => this.prefix + key);
        batches.push(this.runner.run("getMany", () => client.mgetBuffer(full)));
      }
      stored = (await Promise.all(batches)).flat();
    }
    return stored.map((buffer, i) => {
      const entry = this.decode(this.prefix + keys[i]!, buffer);
      if (entry === undefined) this.counters.misses++;
      else this.counters.hits++;
      return entry;
    });
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.assertOpen();
    assertKey(key);
    assertValue(value);
    assertSetOptions(options);
    if (value.byteLength > this.options.maxValueBytes) {
      throw new ZarrsCacheError("VALUE_TOO_LARGE", `${this.label}: a value of ${value.byteLength} bytes is over maxValueBytes (${this.options.maxValueBytes})`);
    }
    const given = options?.ttl ?? this.options.ttl;
    const ttl = given === undefined ? undefined : wholeMs(given);
    const payload = encodeEntry(value, ttl === undefined ? undefined : Date.now() + ttl);
    const full = this.prefix + key;
    // A TTL past MAX_PX (Redis would refuse it) lives in the header only; decode() then drops the entry.
    const px = ttl !== undefined && ttl <= MAX_PX ? ttl : undefined;
    await this.runner.run("set", () => (px === undefined ? this.client.set(full, payload) : this.client.set(full, payload, "PX", px)));
    this.counters.sets++;
    if (this.flight !== undefined) {
      const heldLock = this.flight.release(key);
      this.flight.wakeKeys([key]);
      // A fill holds the bytes every node would load itself: nobody's copy is stale, so no
      // invalidation; only nodes waiting on our lock need to hear that the value is there.
      if (options?.fill === true) {
        if (heldLock) await this.bus?.publishFilled([key]);
        return;
      }
    } else if (options?.fill === true) return;
    // Published after the write landed, so another node that drops its copy re-reads the new value.
    await this.bus?.publishKeys([key]);
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    const removed = await this.runner.run("delete", () => this.client.unlink(this.prefix + key));
    if (removed > 0) this.counters.deletes++;
    // Published even when Redis had nothing: another node's L1 may still hold the key.
    await this.bus?.publishKeys([key]);
    return removed > 0;
  }

  /** Removes this namespace's keys starting with `prefix` (SCAN + UNLINK on every master). */
  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    if (typeof prefix !== "string") throw new ZarrsCacheError("INVALID_ARGUMENT", "deletePrefix(prefix) needs a string prefix");
    let removed = 0;
    for await (const { node, keys } of scanBatches(this.runner, this.client, this.prefix + prefix)) {
      removed += await unlinkBatch(this.runner, this.client, node, keys);
    }
    this.counters.deletes += removed;
    await this.bus?.publishPrefix(prefix);
    return removed;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    return (await this.runner.run("has", () => this.client.exists(this.prefix + key))) > 0;
  }

  /** Removes every key of this namespace (`keyPrefix`), and nothing else. */
  async clear(): Promise<void> {
    await this.deletePrefix("");
  }

  async *keys(prefix = ""): AsyncIterable<string> {
    this.assertOpen();
    const seen = new Set<string>();
    for await (const { keys } of scanBatches(this.runner, this.client, this.prefix + prefix)) {
      for (const full of keys) {
        // SCAN may return a key twice (while Redis rehashes).
        if (seen.has(full)) continue;
        seen.add(full);
        yield full.slice(this.prefix.length);
      }
    }
  }

  onInvalidation(listener: (message: TierInvalidation) => void): () => void {
    if (this.bus === undefined || this.closed) return () => undefined;
    return this.bus.addListener(listener);
  }

  stats(): RedisTierStats {
    return {
      ...this.counters,
      locksHeld: this.flight?.heldCount ?? 0,
      breakerOpens: this.breaker?.opens ?? 0,
      breakerState: BREAKER_STATE_GAUGE[this.breakerState],
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flight?.close();
    await this.bus?.close();
    this.runner.close();
    this.breaker?.dispose();
    if (this.owned) {
      await closeClient(this.client, this.options.commandTimeout);
      // Keep a listener: a late socket error must not print "Unhandled error event".
      this.client.on("error", () => undefined);
    }
    this.client.off("error", this.onClientError);
    this.events.removeAll();
  }

  private get label(): string {
    return `redis tier "${this.name}"`;
  }

  /** GET and decode, no counting. */
  private fetch(key: string): Promise<CacheEntry | undefined> {
    const full = this.prefix + key;
    return this.runner.run("get", () => this.client.getBuffer(full)).then((stored) => this.decode(full, stored));
  }

  private decode(full: string, stored: Buffer | null): CacheEntry | undefined {
    if (stored === null) return undefined;
    const entry = decodeEntry(stored);
    if (entry === null) {
      // Not written by this tier (another program shares the prefix) or damaged: a miss.
      this.counters.corrupt++;
      return undefined;
    }
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      // Redis expires keys set with PX itself; this covers clock skew between nodes and TTLs too
      // long for PX. Deleted only while it still has this header: a newer value stays.
      const header = expiryHeader(stored);
      this.runner.run("expire", () => DELETE_IF_HEADER.run(this.client, full, header)).catch(() => undefined);
      return undefined;
    }
    return entry;
  }

  private onBreaker(state: BreakerState, previous: BreakerState): void {
    if (this.events.has("breaker")) this.events.emit("breaker", { state, previous });
    // While open this node neither wrote nor (maybe) heard invalidations: drop the tiers above.
    if (state === "closed" && previous === "half-open") this.bus?.resync();
  }

  private assertOpen(): void {
    if (this.closed) throw new ZarrsCacheError("CLOSED", `${this.label} is closed`);
  }
}

/** A shared Redis or Redis Cluster tier: `redis({ url: "redis://127.0.0.1:6379", keyPrefix: "zc:era5:" })`. */
export function redis(options: RedisTierOptions = {}): RedisTier {
  return new RedisTier(options);
}
