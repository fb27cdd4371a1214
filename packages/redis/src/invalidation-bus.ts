import { randomUUID } from "node:crypto";
import type { TierInvalidation } from "@zarrs-cache/core";
import type { Redis } from "ioredis";
import { createSubscriber, reconnectDelay } from "./connect.js";
import type { CommandRunner, RedisClient } from "./runner.js";

export interface BusCounters {
  published: number;
  publishErrors: number;
  received: number;
  badMessages: number;
  resyncs: number;
  subscriberLosses: number;
}

/**
 * On the wire: JSON with the sender's node id and namespace, and keys (never values): `k` keys
 * written or deleted, `p` a prefix invalidated, `f` keys filled (read-through: nothing to drop,
 * only single-flight waiters to wake), `r` single-flight locks released by loads that filled
 * nothing (waiters stop waiting and one of them loads).
 */
interface WireMessage {
  n: string;
  s: string;
  k?: string[];
  p?: string;
  f?: string[];
  r?: string[];
}

const MAX_KEYS_PER_MESSAGE = 500;

/**
 * Invalidation messages over Redis pub/sub. Publishes this node's writes and fills (batched per
 * event-loop turn), and hands invalidations from other nodes to listeners (fills only wake
 * single-flight waiters). Its own SUBSCRIBE connection is
 * watched: after any loss (or a connection that never came up) the next successful subscription
 * tells listeners `{ kind: "all" }`, because messages may have been missed meanwhile. The first
 * subscription does too, and so does adding a listener: whatever the tiers above hold from before
 * this process joined the bus (a persistent disk level after a restart) may have missed writes of
 * other nodes while it was down.
 */
export class InvalidationBus {
  readonly nodeId = randomUUID();
  private readonly listeners = new Set<(message: TierInvalidation) => void>();
  private pendingKeys: string[] = [];
  private pendingFilled: string[] = [];
  private pendingReleased: string[] = [];
  private pendingFlush: Promise<void> | undefined;
  private subscriber: Redis | undefined;
  private subscribed = false;
  /** True until the first subscription: everything before it was missed. */
  private missedMessages = true;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly runner: CommandRunner,
    private readonly channel: string,
    private readonly namespace: string,
    private readonly connectTimeout: number,
    private readonly counters: BusCounters,
    /**
     * Sees every message before listeners (wakes single-flight waiters) and returns what the
     * listeners should get (undefined: nothing).
     */
    private readonly onRemote: (message: TierInvalidation, source: "remote" | "resync" | "repair") => TierInvalidation | undefined,
    /** Keys another node filled, or whose lock it released: wakes single-flight waiters, never reaches listeners. */
    private readonly onFilled: (keys: string[]) => void,
    /** An invalidation of this node's that could not be published (other nodes may keep old copies). */
    private readonly onLost: (message: TierInvalidation) => void,
  ) {}

  get isSubscribed(): boolean {
    return this.subscribed;
  }

  addListener(listener: (message: TierInvalidation) => void): () => void {
    this.listeners.add(listener);
    // Its tiers may hold entries from before this process listened (a restart): drop them first.
    queueMicrotask(() => {
      if (this.closed || !this.listeners.has(listener)) return;
      this.counters.resyncs++;
      const message = this.onRemote({ kind: "all" }, "resync");
      if (message === undefined) return;
      try {
        listener(message);
      } catch {
        // A faulty listener must not break the bus.
      }
    });
    this.start();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Starts the subscriber connection (idempotent). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.connect();
  }

  /** Publishes the invalidation of `keys` with others written in this turn of the event loop. Never rejects. */
  publishKeys(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.pendingKeys.push(key);
    return this.schedule(this.pendingKeys.length);
  }

  /** Publishes that `keys` were filled (wakes other nodes' waiters; invalidates nothing). Never rejects. */
  publishFilled(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.pendingFilled.push(key);
    return this.schedule(this.pendingFilled.length);
  }

  /** Publishes that this node released its locks of `keys` without filling them. Never rejects. */
  publishReleased(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.pendingReleased.push(key);
    return this.schedule(this.pendingReleased.length);
  }

  /**
   * Publishes invalidations now, unbatched, and rejects if any could not be sent: a repair
   * forgets what it fixed only once every other node has been told.
   */
  async announce(keys: readonly string[], prefixes: readonly string[]): Promise<void> {
    let ok = true;
    for (let i = 0; i < keys.length; i += MAX_KEYS_PER_MESSAGE) {
      ok = (await this.publish({ n: this.nodeId, s: this.namespace, k: keys.slice(i, i + MAX_KEYS_PER_MESSAGE) })) && ok;
    }
    for (const p of prefixes) ok = (await this.publish({ n: this.nodeId, s: this.namespace, p })) && ok;
    if (!ok) throw new Error("an invalidation could not be published");
  }

  private schedule(pending: number): Promise<void> {
    if (pending >= MAX_KEYS_PER_MESSAGE) return this.flush();
    this.pendingFlush ??= new Promise<void>((resolve) => setImmediate(() => void this.flush().then(resolve)));
    return this.pendingFlush;
  }

  async publishPrefix(prefix: string): Promise<void> {
    if (!(await this.publish({ n: this.nodeId, s: this.namespace, p: prefix }))) this.onLost({ kind: "prefix", prefix });
  }

  /**
   * Tells this node's own listeners that `keys` and `prefixes` were repaired: while Redis held
   * their older copy, another process sharing a tier above Redis (a disk directory) may have
   * copied it there, and this node ignores its own announcement on the bus.
   */
  deliverRepaired(keys: readonly string[], prefixes: readonly string[]): void {
    if (this.closed) return;
    if (keys.length > 0) this.deliver({ kind: "keys", keys: [...keys] }, "repair");
    for (const prefix of prefixes) this.deliver({ kind: "prefix", prefix }, "repair");
  }

  /** Tells listeners to drop everything (messages may have been missed). */
  resync(): void {
    if (this.closed) return;
    this.counters.resyncs++;
    this.deliver({ kind: "all" }, "resync");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.subscribed = false;
    subscriber?.disconnect();
    this.listeners.clear();
  }

  private async flush(): Promise<void> {
    this.pendingFlush = undefined;
    const keys = this.pendingKeys;
    const filled = this.pendingFilled;
    const released = this.pendingReleased;
    this.pendingKeys = [];
    this.pendingFilled = [];
    this.pendingReleased = [];
    for (let i = 0; i < keys.length; i += MAX_KEYS_PER_MESSAGE) {
      const chunk = keys.slice(i, i + MAX_KEYS_PER_MESSAGE);
      if (!(await this.publish({ n: this.nodeId, s: this.namespace, k: chunk }))) this.onLost({ kind: "keys", keys: chunk });
    }
    // Wake-ups only: a lost one costs a waiter its poll interval or its wait, never a stale read.
    for (let i = 0; i < filled.length; i += MAX_KEYS_PER_MESSAGE) {
      await this.publish({ n: this.nodeId, s: this.namespace, f: filled.slice(i, i + MAX_KEYS_PER_MESSAGE) });
    }
    for (let i = 0; i < released.length; i += MAX_KEYS_PER_MESSAGE) {
      await this.publish({ n: this.nodeId, s: this.namespace, r: released.slice(i, i + MAX_KEYS_PER_MESSAGE) });
    }
  }

  /** True when Redis took the message. */
  private async publish(message: WireMessage): Promise<boolean> {
    if (this.closed) return true;
    try {
      await this.runner.run("publish", () => this.client.publish(this.channel, JSON.stringify(message)));
      this.counters.published++;
      return true;
    } catch {
      // Counted by the runner as an error; the caller records a lost invalidation for repair.
      this.counters.publishErrors++;
      return false;
    }
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    const subscriber = createSubscriber(this.client, this.attempt++, this.connectTimeout);
    if (subscriber === undefined) {
      this.retryLater();
      return;
    }
    this.subscriber = subscriber;
    subscriber.on("error", () => undefined);
    subscriber.on("message", (_channel: string, payload: string) => this.receive(payload));
    subscriber.on("ready", () => {
      subscriber.subscribe(this.channel).then(
        () => {
          if (this.subscriber !== subscriber || this.closed) return;
          this.subscribed = true;
          this.attempt = 0;
          if (this.missedMessages) {
            this.missedMessages = false;
            this.resync();
          }
        },
        () => subscriber.disconnect(),
      );
    });
    subscriber.on("end", () => {
      if (this.subscriber !== subscriber) return;
      this.subscriber = undefined;
      if (this.subscribed) this.counters.subscriberLosses++;
      this.subscribed = false;
      this.missedMessages = true;
      this.retryLater();
    });
  }

  private retryLater(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => this.connect(), reconnectDelay(this.attempt));
    this.reconnectTimer.unref?.();
  }

  private receive(payload: string): void {
    if (this.closed) return;
    let message: WireMessage;
    try {
      message = JSON.parse(payload) as WireMessage;
    } catch {
      this.counters.badMessages++;
      return;
    }
    if (typeof message !== "object" || message === null || typeof message.n !== "string") {
      this.counters.badMessages++;
      return;
    }
    if (message.n === this.nodeId || message.s !== this.namespace) return;
    const wake = isKeyList(message.f) ? message.f : isKeyList(message.r) ? message.r : undefined;
    if (wake !== undefined) {
      this.counters.received++;
      this.onFilled(wake);
      return;
    }
    let invalidation: TierInvalidation;
    if (isKeyList(message.k)) invalidation = { kind: "keys", keys: message.k };
    else if (typeof message.p === "string") invalidation = { kind: "prefix", prefix: message.p };
    else {
      this.counters.badMessages++;
      return;
    }
    this.counters.received++;
    this.deliver(invalidation, "remote");
  }

  private deliver(received: TierInvalidation, source: "remote" | "resync" | "repair"): void {
    const message = this.onRemote(received, source);
    if (message === undefined) return;
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch {
        // A faulty listener must not stop the others.
      }
    }
  }
}

function isKeyList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((key) => typeof key === "string");
}
