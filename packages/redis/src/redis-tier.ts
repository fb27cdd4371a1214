import {
  type CacheEntry,
  type CacheTier,
  Emitter,
  type HoldScope,
  type SetOptions,
  type TierInvalidation,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertSetOptions,
  assertValue,
} from "@zarrs-cache/core";
import { BREAKER_STATE_GAUGE, type BreakerState, CircuitBreaker } from "@zarrs-cache/core";
import { closeClient, createClient, isCluster } from "./connect.js";
import { MAX_PX, decodeEntry, encodeEntry, expiryHeader, wholeMs } from "./entry-format.js";
import { GetBatcher } from "./get-batch.js";
import { InvalidationBus } from "./invalidation-bus.js";
import { type RedisTierOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { PartitionRepair, type RepairEvent } from "./repair.js";
import { CommandRunner, type RedisClient } from "./runner.js";
import { scanBatches, unlinkBatch } from "./scan.js";
import { DELETE_IF_HEADER } from "./scripts.js";
import { SingleFlight } from "./single-flight.js";
import {
  CONDITIONAL_FILL,
  DELETE_TO_TOMBSTONE,
  PREFIX_TOMBSTONE_CHECK,
  RECORD_PREFIX_TOMBSTONE,
  ServerClock,
  isTombstone,
  prefixTombstoneHash,
} from "./tombstones.js";

/** Events of a RedisTier (`tier.events.on(...)`). A TieredCache reports failed calls itself too. */
export interface RedisTierEvents {
  /** A command failed or timed out, or the connection reported an error. */
  error: { operation: string; error: unknown };
  /** The circuit breaker changed state. */
  breaker: { state: BreakerState; previous: BreakerState };
  /**
   * An invalidation from another node, a resync (`{ kind: "all" }`) after messages may have been
   * missed, or this node's own repaired keys ("repair": see the README, "Partitions").
   */
  invalidation: { message: TierInvalidation; source: "remote" | "resync" | "repair" };
  /**
   * A write's Redis update or invalidation failed, so Redis may hold an older value ("pending":
   * this node reads those keys as misses), or such keys were deleted from Redis and their
   * invalidation published once it was reachable again ("repaired").
   */
  repair: RepairEvent;
}

/** A RedisTier's counters. `entries` and `bytes` stay undefined: a shared Redis cannot know them cheaply. */
export interface RedisTierStats extends TierStats {
  /** Calls that timed out (also counted in `errors`). */
  timeouts: number;
  /** Calls refused at once by the open circuit breaker (not counted in `errors`). */
  rejected: number;
  /** Values found that this tier did not write (foreign or damaged), answered as misses. */
  corrupt: number;
  /** Read-through fills not stored: a live entry was there, or a tombstone (or the window) said the load was too old. */
  fillsRefused: number;
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
  /** Single-flight: locks a waiting node took over (released without a value by a failed load, or expired). */
  lockTakeovers: number;
  /** Single-flight: locks released early because their load filled nothing (`loadSettled`). */
  locksAbandoned: number;
  /** Partition repair: keys and prefixes whose Redis copy may be stale, waiting for Redis (a gauge). */
  repairsPending: number;
  /** Partition repair: recorded keys and prefixes deleted from Redis and announced to the other nodes. */
  repairsDone: number;
  /** Partition repair: attempts that failed (Redis still unreachable) and will be retried. */
  repairFailures: number;
  /** Partition repair: times the recorded keys were collapsed into a common prefix (over `repair.maxKeys`). */
  repairsCoarsened: number;
  /** Partition repair: reads answered as misses because the key awaited repair. */
  repairMisses: number;
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
/** Most single gets merged into one MGET (1 MiB values come back fastest one at a time). */
const GET_BATCH = 64;

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
  /** Single gets of one turn as one MGET (not on a Cluster). */
  private readonly gets: GetBatcher | undefined;
  private readonly breaker: CircuitBreaker | undefined;
  private readonly bus: InvalidationBus | undefined;
  private readonly flight: SingleFlight | undefined;
  private readonly repair: PartitionRepair;
  private readonly onClientError: (error: unknown) => void;
  private readonly onClientReady: () => void;
  private readonly counters = {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    evictions: 0,
    errors: 0,
    timeouts: 0,
    rejected: 0,
    corrupt: 0,
    fillsRefused: 0,
    connectionErrors: 0,
    published: 0,
    publishErrors: 0,
    received: 0,
    badMessages: 0,
    resyncs: 0,
    subscriberLosses: 0,
    locksTaken: 0,
    lockWaits: 0,
    lockWaitHits: 0,
    lockWaitTimeouts: 0,
    lateHits: 0,
    lockTakeovers: 0,
    locksAbandoned: 0,
    repairsDone: 0,
    repairFailures: 0,
    repairMisses: 0,
  };
  private closed = false;
  private readonly serverClock = new ServerClock();
  /** The hash of this namespace's prefix tombstones (see tombstones.ts). */
  private readonly prefixTombstones: string;

  constructor(options: RedisTierOptions = {}) {
    this.options = resolveOptions(options);
    this.name = this.options.name;
    this.prefix = this.options.keyPrefix;
    this.prefixTombstones = prefixTombstoneHash(this.prefix);
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
      this.breaker = new CircuitBreaker(
        this.options.breaker,
        () => this.runner.probe(() => this.client.ping()),
        (state, previous) => this.onBreaker(state, previous),
      );
    }
    this.runner = new CommandRunner(client, this.options.commandTimeout, label, this.breaker, this.counters, (operation, error) => {
      if (this.events.has("error")) this.events.emit("error", { operation, error });
    });
    if (!isCluster(client)) {
      const plain = client;
      this.gets = new GetBatcher(
        (full) => this.runner.run("get", () => plain.getBuffer(full)),
        (fulls) => this.runner.run("get", () => plain.mgetBuffer(fulls)),
        GET_BATCH,
        () => plain.status === "ready" && (this.breaker === undefined || this.breaker.closed),
      );
    }
    if (this.options.bus) {
      this.bus = new InvalidationBus(
        client,
        this.runner,
        this.options.bus.channel,
        this.prefix,
        this.options.connectTimeout,
        this.counters,
        (message, source) => {
          if (this.events.has("invalidation")) this.events.emit("invalidation", { message, source });
          return this.flight === undefined ? message : this.flight.wake(message);
        },
        (keys) => this.flight?.wakeKeys(keys),
        (lost) => {
          if (lost.kind === "keys") for (const key of lost.keys) this.repair.staleKey(key);
          else this.repair.stalePrefix(lost.kind === "prefix" ? lost.prefix : "");
        },
      );
    }
    const onRepair = (event: RepairEvent) => {
      if (this.events.has("repair")) this.events.emit("repair", event);
    };
    const { repair, keyPrefix } = this.options;
    const tombstoneTtl = this.options.tombstoneTtl;
    this.repair = new PartitionRepair(
      repair,
      client,
      this.runner,
      keyPrefix,
      this.breaker,
      this.bus,
      this.counters,
      onRepair,
      tombstoneTtl,
    );
    // With the breaker on, its closing (probed at once on "ready") triggers the repair instead.
    this.onClientReady = () => {
      if (this.breaker === undefined || this.breaker.closed) this.repair.repairSoon();
    };
    client.on("ready", this.onClientReady);
    if (this.options.singleFlight) {
      const token = this.bus?.nodeId ?? `${process.pid}-${Math.random()}`;
      const lockPrefix = `zarrs-cache:lock:${this.prefix}`;
      this.flight = new SingleFlight(this.options.singleFlight, client, this.runner, (key) => lockPrefix + key, token, this.counters);
      // Waiters are woken by the writer's invalidation message, so listen from the start.
      this.bus?.start();
    }
  }

  /** The largest value `set` accepts, in bytes (the `maxValueBytes` option). */
  get maxValueBytes(): number {
    return this.options.maxValueBytes;
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
    // A key this node wrote while Redis was unreachable: the shared copy may be older.
    if (this.repair.covers(key)) {
      this.counters.misses++;
      return Promise.resolve(undefined);
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
      const entry = this.repair.covers(keys[i]!) ? undefined : this.decode(this.prefix + keys[i]!, buffer);
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
      throw new ZarrsCacheError(
        "VALUE_TOO_LARGE",
        `${this.label}: a value of ${value.byteLength} bytes is over maxValueBytes (${this.options.maxValueBytes})`,
      );
    }
    const given = options?.ttl ?? this.options.ttl;
    const ttl = given === undefined ? undefined : wholeMs(given);
    const payload = encodeEntry(value, ttl === undefined ? undefined : Date.now() + ttl);
    const full = this.prefix + key;
    // A TTL past MAX_PX (Redis would refuse it) lives in the header only; decode() then drops the entry.
    const px = ttl !== undefined && ttl <= MAX_PX ? ttl : undefined;
    if (options?.fill === true) {
      if (await this.fill(key, full, payload, px, options.loadStartedAt)) this.counters.sets++;
    } else {
      try {
        await this.runner.run("set", () => (px === undefined ? this.client.set(full, payload) : this.client.set(full, payload, "PX", px)));
      } catch (error) {
        // Redis may keep the older value: remember to delete it and tell the other nodes once it is back.
        this.repair.staleKey(key);
        throw error;
      }
      this.counters.sets++;
    }
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
    let removed: number;
    try {
      // A tombstone rather than nothing: a fill whose load began before this delete cannot land after it.
      const reply = await this.runner.run("delete", () =>
        DELETE_TO_TOMBSTONE.run(this.client, [this.prefix + key], [this.options.tombstoneTtl]),
      );
      removed = this.replyCode(reply);
    } catch (error) {
      this.repair.staleKey(key);
      throw error;
    }
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
    try {
      // Recorded first: a fill whose load began before this point is refused while the scan runs and after.
      await this.runner.run("deletePrefix", () =>
        RECORD_PREFIX_TOMBSTONE.run(this.client, [this.prefixTombstones], [prefix, this.options.tombstoneTtl]),
      );
      for await (const { node, keys } of scanBatches(this.runner, this.client, this.prefix + prefix)) {
        removed += await unlinkBatch(this.runner, this.client, node, keys);
      }
    } catch (error) {
      this.repair.stalePrefix(prefix);
      throw error;
    } finally {
      this.counters.deletes += removed;
    }
    await this.bus?.publishPrefix(prefix);
    return removed;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    if (this.repair.covers(key)) return false;
    const head = await this.runner.run("has", () => this.client.getrange(this.prefix + key, 0, 0));
    return head !== "" && head !== "t";
  }

  /** Removes every key of this namespace (`keyPrefix`), and nothing else. */
  async clear(): Promise<void> {
    await this.deletePrefix("");
  }

  async *keys(prefix = ""): AsyncIterable<string> {
    this.assertOpen();
    const seen = new Set<string>();
    for await (const { node, keys } of scanBatches(this.runner, this.client, this.prefix + prefix)) {
      const live = await this.withoutTombstones(node, keys);
      for (const full of live) {
        // SCAN may return a key twice (while Redis rehashes).
        if (seen.has(full)) continue;
        seen.add(full);
        yield full.slice(this.prefix.length);
      }
    }
  }

  /**
   * A load that followed a `get` miss here ended without filling this tier (it failed, was
   * aborted, timed out, or its result was not cached): the single-flight lock this node took for
   * it is released at once (compare-and-delete) and the other nodes are told, so one of those
   * waiting for the value takes the lock over and loads now rather than after `wait`.
   * Never throws.
   */
  loadSettled(key: string, _outcome: "failed" | "aborted" | "uncached"): void {
    if (this.closed || this.flight === undefined || typeof key !== "string") return;
    void this.flight.abandon(key).then((released) => {
      // Published after the lock is gone, so a woken waiter's SET NX finds it free.
      if (released && !this.closed) return this.bus?.publishReleased([key]);
    });
  }

  /**
   * True while a write, delete or invalidation of a key in `scope` failed to reach Redis (or the
   * other nodes) and its repair has not run yet: Redis may still hold the older value. A
   * TieredCache keeps the tiers above holding such keys meanwhile (see the README, "Partitions").
   */
  repairPending(scope: HoldScope): boolean {
    return !this.closed && this.repair.pendingFor(scope);
  }

  onInvalidation(listener: (message: TierInvalidation) => void): () => void {
    if (this.bus === undefined || this.closed) return () => undefined;
    return this.bus.addListener(listener);
  }

  stats(): RedisTierStats {
    return {
      ...this.counters,
      locksHeld: this.flight?.heldCount ?? 0,
      repairsPending: this.repair.pending,
      repairsCoarsened: this.repair.coarsened,
      breakerOpens: this.breaker?.opens ?? 0,
      breakerState: BREAKER_STATE_GAUGE[this.breakerState],
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.repair.close();
    this.client.off("ready", this.onClientReady);
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

  /**
   * A conditional fill (see tombstones.ts): stored only if no live entry is there and no tombstone
   * of the key or of a prefix of it is as new as the load. A refused fill resolves (counted).
   */
  private async fill(
    key: string,
    full: string,
    payload: Buffer,
    px: number | undefined,
    loadStartedAt: number | undefined,
  ): Promise<boolean> {
    const started = loadStartedAt ?? Date.now();
    const age = () => Math.max(0, Date.now() - started);
    const window = this.options.tombstoneTtl;
    if (isCluster(this.client)) {
      // The prefix hash lives in another slot: checked on its own first (a prefix delete racing
      // between the two steps is covered by its scan, which runs after its tombstone is recorded).
      const reply = await this.runner.run("set", () =>
        PREFIX_TOMBSTONE_CHECK.run(this.client, [this.prefixTombstones], [age(), this.serverClock.toServer(started), key]),
      );
      if (this.replyCode(reply) !== 1) {
        this.counters.fillsRefused++;
        return false;
      }
    }
    const keys = isCluster(this.client) ? [full] : [full, this.prefixTombstones];
    const reply = await this.runner.run("set", () =>
      CONDITIONAL_FILL.run(this.client, keys, [payload, px ?? 0, age(), this.serverClock.toServer(started), window, Date.now(), key]),
    );
    if (this.replyCode(reply) === 1) return true;
    this.counters.fillsRefused++;
    return false;
  }

  /** A tombstone script's reply {code, server time}: notes the server time, returns the code. */
  private replyCode(reply: unknown): number {
    if (!Array.isArray(reply)) return Number(reply);
    this.serverClock.sample(reply[1]);
    return Number(reply[0]);
  }

  /** The keys of a SCAN batch that hold values, not tombstones (one pipelined GETRANGE each). */
  private async withoutTombstones(node: { pipeline: RedisClient["pipeline"] }, keys: string[]): Promise<string[]> {
    const heads = await this.runner.run("keys", () =>
      (node.pipeline(keys.map((key) => ["getrange", key, 0, 0])) as ReturnType<RedisClient["pipeline"]>).exec(),
    );
    return keys.filter((_, i) => {
      const [error, head] = heads?.[i] ?? [null, ""];
      return error === null && head !== "" && head !== "t";
    });
  }

  /** GET and decode, no counting. */
  private fetch(key: string): Promise<CacheEntry | undefined> {
    const full = this.prefix + key;
    // Checked again on the reply: a write of this key may have failed while the GET was out.
    const stored = this.gets !== undefined ? this.gets.get(full) : this.runner.run("get", () => this.client.getBuffer(full));
    return stored.then((value) => (this.repair.covers(key) ? undefined : this.decode(full, value)));
  }

  private decode(full: string, stored: Buffer | null): CacheEntry | undefined {
    if (stored === null || isTombstone(stored)) return undefined;
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
    if (state === "closed" && previous === "half-open") {
      this.bus?.resync();
      this.repair.repairSoon();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ZarrsCacheError("CLOSED", `${this.label} is closed`);
  }
}

/** A shared Redis or Redis Cluster tier: `redis({ url: "redis://127.0.0.1:6379", keyPrefix: "zc:era5:" })`. */
export function redis(options: RedisTierOptions = {}): RedisTier {
  return new RedisTier(options);
}
