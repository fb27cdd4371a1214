import { type CircuitBreaker, Guard, type GuardCounters, ZarrsCacheError } from "@zarrs-cache/core";
import type { Cluster, Redis } from "ioredis";

export type RedisClient = Redis | Cluster;

export type RunnerCounters = GuardCounters;

/** Reply errors that mean "Redis cannot serve now" rather than "this command was wrong". */
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|BUSY)\b/;

/**
 * Sends commands through core's Guard (the timeout, the breaker, the counting), adding what only
 * Redis has: a connection that is not ready fails at once (only the very first connect is waited
 * for, within the timeout), and ioredis errors are classified: a reply error is Redis answering
 * (IO_ERROR, not an outage), anything else TIER_UNAVAILABLE, with the ioredis error as `cause`.
 */
export class CommandRunner {
  private everReady: boolean;
  private initialFailed = false;
  private initialWaitExpired = false;
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private closed = false;
  private readonly detach: () => void;
  private readonly guard: Guard;

  constructor(
    private readonly client: RedisClient,
    timeout: number,
    private readonly label: string,
    breaker: CircuitBreaker | undefined,
    counters: RunnerCounters,
    onError: (operation: string, error: ZarrsCacheError) => void,
  ) {
    this.guard = new Guard({
      label,
      timeout,
      breaker: breaker ?? false,
      counters,
      classify: (operation, cause) => this.classify(operation, cause),
      timeoutMessage: (operation, ms) => `Redis did not answer ${operation} within ${ms} ms`,
      refusal: (open) => `circuit breaker is ${open.state} after repeated Redis failures`,
      onError: (operation, error) => {
        if (error.code === "TIMEOUT" && !this.everReady) this.initialWaitExpired = true;
        onError(operation, error);
      },
    });
    this.everReady = client.status === "ready";
    const onReady = () => {
      this.everReady = true;
      this.settleWaiters();
      breaker?.probeSoon();
    };
    const onTrouble = (error?: unknown) => {
      if (this.everReady) return;
      this.initialFailed = true;
      this.settleWaiters(this.unavailable("could not connect to Redis", error));
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
    return this.guard.run(operation, () => this.dispatch(send));
  }

  /** The breaker's half-open probe: like run(), but past the breaker. */
  probe(send: () => Promise<unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new ZarrsCacheError("CLOSED", `${this.label} is closed`));
    return this.guard.bounded("probe", () => this.dispatch(send));
  }

  private dispatch<T>(send: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (status === "ready") return send();
    if (this.mayWaitForConnect(status)) return this.waitForConnect().then(send);
    return Promise.reject(this.unavailable(`the Redis connection is ${status}`));
  }

  close(): void {
    this.closed = true;
    this.detach();
    // Nothing may wait on a closed tier: commands still out are answered now.
    this.guard.close();
    this.settleWaiters(new ZarrsCacheError("CLOSED", `${this.label} is closed`));
  }

  private classify(operation: string, cause: unknown): ZarrsCacheError {
    const message = (cause as Error)?.message ?? String(cause);
    if ((cause as Error)?.name === "ReplyError" && !UNAVAILABLE_REPLY.test(message)) {
      // Redis answered: it is up, the command itself failed (OOM, WRONGTYPE, NOPERM…).
      return new ZarrsCacheError("IO_ERROR", `${this.label}: Redis refused ${operation}: ${message}`, { cause });
    }
    return this.unavailable(`${operation} failed: ${message}`, cause);
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
