import { ZarrsCacheError, isZarrsCacheError } from "../errors.js";
import { type BreakerSettings, type BreakerState, CircuitBreaker } from "./breaker.js";

export interface GuardOptions {
  /** Names the tier in every message, e.g. `keyv tier "keyv"`. */
  label: string;
  /** Time limit per call in ms; 0 = none. A call over it rejects with TIMEOUT. */
  timeout: number;
  /**
   * Open after this many consecutive TIER_UNAVAILABLE/TIMEOUT failures; false = no breaker. Or a
   * breaker the tier made itself (to read its state, or probe through the guard).
   */
  breaker?: BreakerSettings | CircuitBreaker | false;
  /** Run by a half-open breaker to test the service (so it recovers with no traffic); see CircuitBreaker. */
  probe?: () => Promise<unknown>;
  /**
   * Turns a foreign error into a ZarrsCacheError: TIER_UNAVAILABLE or TIMEOUT when the service
   * cannot serve (these feed the breaker), anything else (IO_ERROR…) when it answered.
   * Default: IO_ERROR. ZarrsCacheErrors pass through unchanged.
   */
  classify?: (operation: string, error: unknown) => ZarrsCacheError;
  /** Count into this object (the tier's own stats) instead of a new one. */
  counters?: GuardCounters;
  /** The message of a call over the time limit (default "<operation> took longer than <timeout> ms"). */
  timeoutMessage?: (operation: string, timeout: number) => string;
  /** The message of a call refused by the open breaker. */
  refusal?: (breaker: CircuitBreaker) => string;
  /** Every failure, once (for `error` events). */
  onError?: (operation: string, error: ZarrsCacheError) => void;
  onBreaker?: (state: BreakerState, previous: BreakerState) => void;
}

export interface GuardCounters {
  /** Calls that failed (timeouts included). */
  errors: number;
  timeouts: number;
  /** Calls refused at once by the open breaker. */
  rejected: number;
}

/** Errors about the call itself, not the service: neither counted nor fed to the breaker. */
const CALLER_ERRORS = new Set<string>([
  "CLOSED",
  "INVALID_KEY",
  "INVALID_ARGUMENT",
  "INVALID_CONFIG",
  "VALUE_TOO_LARGE",
  "UNSUPPORTED",
  "ABORTED",
]);

interface Deadline {
  at: number;
  operation: string;
  reject: (error: unknown) => void;
  settled: boolean;
}

/**
 * The one model of "the store is down" for tiers over a network: every call gets a time limit,
 * failures are classified, counted and reported once, and a circuit breaker fails calls fast
 * while the service is down. One sweep timer serves every deadline (a timer per call cost ~3×
 * more CPU); deadlines are checked every `timeout / 20` ms (at least 5 ms), so a timeout fires at
 * most that much late. Tiers call `run()` around each call into their client; `guarded()` wraps a
 * whole tier with it.
 */
export class Guard {
  readonly counters: GuardCounters;
  readonly breaker: CircuitBreaker | undefined;
  private readonly deadlines = new Set<Deadline>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(private readonly options: GuardOptions) {
    const settings = options.breaker;
    this.counters = options.counters ?? { errors: 0, timeouts: 0, rejected: 0 };
    if (settings instanceof CircuitBreaker) this.breaker = settings;
    else this.breaker = settings ? new CircuitBreaker(settings, options.probe, options.onBreaker) : undefined;
  }

  /** Runs `call` under the breaker and the time limit; every failure becomes a ZarrsCacheError. */
  run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ZarrsCacheError("CLOSED", `${this.options.label} is closed`));
    const breaker = this.breaker;
    if (breaker !== undefined && !breaker.closed) {
      this.counters.rejected++;
      const message = this.options.refusal?.(breaker) ?? `circuit breaker is ${breaker.state} after repeated failures`;
      return Promise.reject(new ZarrsCacheError("TIER_UNAVAILABLE", `${this.options.label}: ${message}`));
    }
    return this.bounded(operation, call);
  }

  /** Like run(), past the breaker (a half-open probe). */
  bounded<T>(operation: string, call: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (error) {
      return Promise.reject(this.fail(operation, error));
    }
    if (this.options.timeout <= 0) {
      return pending.then(
        (value) => {
          this.breaker?.success();
          return value;
        },
        (error: unknown) => Promise.reject(this.fail(operation, error)),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Deadline = { at: Date.now() + this.options.timeout, operation, reject, settled: false };
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
        (error: unknown) => {
          if (entry.settled) return;
          entry.settled = true;
          this.deadlines.delete(entry);
          reject(this.fail(operation, error));
        },
      );
    });
  }

  /**
   * Classifies, counts and reports a failure (feeding the breaker when the service looks down)
   * and returns it as a ZarrsCacheError to throw. Also for failures a tier detects itself.
   */
  fail(operation: string, error: unknown): ZarrsCacheError {
    const wrapped = isZarrsCacheError(error) ? error : (this.options.classify?.(operation, error) ?? this.ioError(operation, error));
    if (CALLER_ERRORS.has(wrapped.code)) return wrapped;
    this.counters.errors++;
    if (wrapped.code === "TIMEOUT") this.counters.timeouts++;
    if (wrapped.code === "TIMEOUT" || wrapped.code === "TIER_UNAVAILABLE") this.breaker?.failure();
    else this.breaker?.success(); // the service answered: it is up
    this.options.onError?.(operation, wrapped);
    return wrapped;
  }

  /** Answers calls still in flight with CLOSED and stops the timers. */
  close(): void {
    this.closed = true;
    this.breaker?.dispose();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const entry of this.deadlines) {
      entry.settled = true;
      entry.reject(new ZarrsCacheError("CLOSED", `${this.options.label} was closed while ${entry.operation} was in flight`));
    }
    this.deadlines.clear();
  }

  private ioError(operation: string, error: unknown): ZarrsCacheError {
    const detail = error instanceof Error ? error.message : String(error);
    return new ZarrsCacheError("IO_ERROR", `${this.options.label}: ${operation} failed: ${detail}`, { cause: error });
  }

  private startSweeper(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.sweep(), Math.max(5, Math.floor(this.options.timeout / 20)));
    timer.unref?.();
    return timer;
  }

  private sweep(): void {
    const now = Date.now();
    // Same timeout for every call, so insertion order is deadline order.
    for (const entry of this.deadlines) {
      if (entry.at > now) break;
      entry.settled = true;
      this.deadlines.delete(entry);
      const what =
        this.options.timeoutMessage?.(entry.operation, this.options.timeout) ??
        `${entry.operation} took longer than ${this.options.timeout} ms`;
      const error = new ZarrsCacheError("TIMEOUT", `${this.options.label}: ${what}`);
      entry.reject(this.fail(entry.operation, error));
    }
    if (this.deadlines.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** Resolves like `promise`, or rejects with TIMEOUT after `ms` (0 = no limit): for a one-off call such as a disconnect. */
export function withTimeout<T>(promise: Promise<T>, ms: number, describe: () => string): Promise<T> {
  if (ms <= 0) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ZarrsCacheError("TIMEOUT", `${describe()} took longer than ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
