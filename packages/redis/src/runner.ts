import { ZarrsCacheError, isZarrsCacheError } from "@zarrs-cache/core";
import type { Cluster, Redis } from "ioredis";
import type { CircuitBreaker } from "./breaker.js";

export type RedisClient = Redis | Cluster;

export interface RunnerCounters {
  errors: number;
  timeouts: number;
  rejected: number;
}

interface Deadline {
  at: number;
  operation: string;
  reject: (error: unknown) => void;
  settled: boolean;
}

/** Reply errors that mean "Redis cannot serve now" rather than "this command was wrong". */
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|BUSY)\b/;

/**
 * Sends commands so that none waits longer than `timeout`: a connection that is not ready fails
 * at once (only the very first connect is waited for, within the timeout), an open breaker fails
 * at once, and every failure becomes a ZarrsCacheError (TIER_UNAVAILABLE, TIMEOUT or IO_ERROR)
 * with the ioredis error as `cause`.
 */
export class CommandRunner {
  private everReady: boolean;
  private initialFailed = false;
  private initialWaitExpired = false;
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private closed = false;
  private readonly detach: () => void;
  private readonly deadlines = new Set<Deadline>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly timeout: number,
    private readonly label: string,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly counters: RunnerCounters,
    private readonly onError: (operation: string, error: ZarrsCacheError) => void,
  ) {
    this.everReady = client.status === "ready";
    const onReady = () => {
      this.everReady = true;
      this.settleWaiters();
      this.breaker?.probeSoon();
    };
    const onTrouble = (error?: unknown) => {
      if (this.everReady) return;
      this.initialFailed = true;
      this.settleWaiters(this.unavailable(`could not connect to Redis`, error));
    };
    const onClose = () => onTrouble();
    client.on("ready", onReady);
    client.on("error", onTrouble);
    client.on("close", onClose);
    client.on("end", onClose);
    this.detach = () => {
      client.off("ready", onReady);
      client.off("error", onTrouble);
      client.off("close", onClose);
      client.off("end", onClose);
    };
  }

  /** Runs `send` under the timeout, the breaker and the connection gate. */
  run<T>(operation: string, send: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ZarrsCacheError("CLOSED", `${this.label} is closed`));
    if (this.breaker !== undefined && !this.breaker.closed) {
      this.counters.rejected++;
      return Promise.reject(this.unavailable(`circuit breaker is ${this.breaker.state} after repeated Redis failures`));
    }
    return this.dispatch(operation, send);
  }

  /** The breaker's half-open probe: like run(), but past the breaker. */
  probe(send: () => Promise<unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new ZarrsCacheError("CLOSED", `${this.label} is closed`));
    return this.dispatch("probe", send);
  }

  private dispatch<T>(operation: string, send: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    let pending: Promise<T>;
    if (status === "ready") pending = send();
    else if (this.mayWaitForConnect(status)) pending = this.waitForConnect().then(send);
    else {
      const error = this.unavailable(`the Redis connection is ${status}`);
      this.fail(operation, error);
      return Promise.reject(error);
    }
    return this.withTimeout(operation, pending);
  }

  close(): void {
    this.closed = true;
    this.detach();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    // Nothing may wait on a closed tier: commands still out are answered now.
    for (const entry of this.deadlines) {
      entry.settled = true;
      entry.reject(new ZarrsCacheError("CLOSED", `${this.label} was closed while ${entry.operation} was in flight`));
    }
    this.deadlines.clear();
    this.settleWaiters(new ZarrsCacheError("CLOSED", `${this.label} is closed`));
  }

  /**
   * Rejects with TIMEOUT when `pending` has not settled by its deadline. One sweep timer serves
   * every command (a timer per command cost ~3× more CPU); deadlines are checked every
   * `timeout / 20` ms (at least 5 ms), so a timeout fires at most that much late.
   */
  private withTimeout<T>(operation: string, pending: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Deadline = { at: Date.now() + this.timeout, operation, reject, settled: false };
      this.deadlines.add(entry);
      this.sweeper ??= this.startSweeper();
      pending.then(
        (value) => {
          if (entry.settled) return;
          entry.settled = true;
          this.deadlines.delete(entry);
          this.breaker?.success();
          resolve(value);
        },
        (cause: unknown) => {
          if (entry.settled) return;
          entry.settled = true;
          this.deadlines.delete(entry);
          reject(this.classify(operation, cause));
        },
      );
    });
  }

  private startSweeper(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.sweep(), Math.max(5, Math.floor(this.timeout / 20)));
    timer.unref?.();
    return timer;
  }

  private sweep(): void {
    const now = Date.now();
    // Same timeout for every command, so insertion order is deadline order.
    for (const entry of this.deadlines) {
      if (entry.at > now) break;
      entry.settled = true;
      this.deadlines.delete(entry);
      this.counters.timeouts++;
      if (!this.everReady) this.initialWaitExpired = true;
      const error = new ZarrsCacheError("TIMEOUT", `${this.label}: Redis did not answer ${entry.operation} within ${this.timeout} ms`);
      this.fail(entry.operation, error);
      entry.reject(error);
    }
  }

  private classify(operation: string, cause: unknown): ZarrsCacheError {
    if (isZarrsCacheError(cause)) {
      if (cause.code === "TIER_UNAVAILABLE" || cause.code === "TIMEOUT") this.fail(operation, cause);
      return cause;
    }
    const message = (cause as Error)?.message ?? String(cause);
    if ((cause as Error)?.name === "ReplyError" && !UNAVAILABLE_REPLY.test(message)) {
      // Redis answered: it is up, the command itself failed (OOM, WRONGTYPE, NOPERM…).
      this.breaker?.success();
      const error = new ZarrsCacheError("IO_ERROR", `${this.label}: Redis refused ${operation}: ${message}`, { cause });
      this.counters.errors++;
      this.onError(operation, error);
      return error;
    }
    const error = this.unavailable(`${operation} failed: ${message}`, cause);
    this.fail(operation, error);
    return error;
  }

  private fail(operation: string, error: ZarrsCacheError): void {
    this.counters.errors++;
    this.breaker?.failure();
    this.onError(operation, error);
  }

  private unavailable(message: string, cause?: unknown): ZarrsCacheError {
    return new ZarrsCacheError("TIER_UNAVAILABLE", `${this.label}: ${message}`, cause === undefined ? undefined : { cause });
  }

  /** Only the first connection attempt is waited for, and only until one wait has timed out. */
  private mayWaitForConnect(status: string): boolean {
    if (this.everReady || this.initialFailed || this.initialWaitExpired) return false;
    return status === "wait" || status === "connecting" || status === "connect";
  }

  private waitForConnect(): Promise<void> {
    if (this.client.status === "wait") this.client.connect().catch(() => undefined);
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private settleWaiters(error?: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }
}
