import { ZarrsCacheError } from "./errors.js";
import type { Speculation } from "./prefetch-queue.js";

/** Why a flight was given up before its load answered. */
export type AbandonReason = "timeout" | "aborted" | "closed";

export type AbandonListener = (flight: Flight, reason: AbandonReason, error: ZarrsCacheError) => void;

/**
 * One load of one key, shared by every caller waiting for it. The flight owns an AbortController
 * whose signal the loader gets. It is abandoned — signal aborted, waiters rejected, nothing
 * cached — when it outlives its timeout (see Deadlines), when every waiter gave up, or when the
 * cache closes.
 */
export class Flight {
  /** Created on first use: most loads end without anyone listening to their signal. */
  private controller: AbortController | undefined;
  /** Settles with the load's answer, or rejects when the flight is abandoned. */
  readonly result: Promise<Uint8Array | undefined>;
  /** Its result must not be cached: a change to its key began after it started, or it was abandoned. */
  stale: boolean;
  /** Answered, failed or abandoned. */
  done = false;
  /** The load filled the tiers it missed in (they then need no `loadSettled`). */
  filled = false;
  /** Lower levels that missed on a loading get and have not been told how the load ended. */
  asked: number[] | undefined;
  readonly started = Date.now();
  /** Set when a prefetch started the flight (see prefetch-queue.ts). */
  speculation: Speculation | undefined;
  /** Waiters still waiting. A waiter without a signal never leaves. */
  private waiters = 0;
  private resolveResult!: (value: Uint8Array | undefined) => void;
  private rejectResult!: (error: unknown) => void;

  constructor(
    readonly key: string,
    stale: boolean,
    private readonly onAbandon: AbandonListener,
  ) {
    this.stale = stale;
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // Every waiter may have left before an abandonment rejects the result: never unhandled.
    this.result.catch(noop);
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  /**
   * Adds a waiter. Its signal ends only its own wait; when the last waiter's signal fires, the
   * flight is abandoned. The caller has already checked that `signal` is not aborted.
   */
  join(signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    this.waiters++;
    if (signal === undefined) return this.result;
    return new Promise((resolve, reject) => {
      const stopListening = whenAborted(signal, () => {
        reject(signal.reason);
        this.leave();
      });
      this.result.then(
        (value) => {
          stopListening();
          resolve(value);
        },
        (error: unknown) => {
          stopListening();
          reject(error);
        },
      );
    });
  }

  answer(value: Uint8Array | undefined): void {
    if (this.finish()) this.resolveResult(value);
  }

  fail(error: unknown): void {
    if (this.finish()) this.rejectResult(error);
  }

  /** Gives the load up: aborts the loader's signal and rejects every waiter with `error`. */
  abandon(reason: AbandonReason, error: ZarrsCacheError): void {
    if (!this.finish()) return;
    this.stale = true;
    this.controller?.abort(error);
    this.rejectResult(error);
    this.onAbandon(this, reason, error);
  }

  private leave(): void {
    if (--this.waiters === 0 && !this.done) {
      this.abandon("aborted", new ZarrsCacheError("ABORTED", `every caller waiting for "${this.key}" gave up; its load was aborted`));
    }
  }

  /** Marks the flight done; false when it already was. */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }
}

function noop(): void {}

/**
 * One "abort" listener per caller signal, however many loads it waits for: a `zarr.get` over
 * hundreds of chunks shares one signal, and a listener per chunk would trip Node's
 * MaxListenersExceededWarning and cost an EventTarget registration each.
 */
const abortCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = abortCallbacks.get(signal);
  if (callbacks === undefined) {
    const created = new Set<() => void>();
    callbacks = created;
    abortCallbacks.set(signal, created);
    signal.addEventListener(
      "abort",
      () => {
        abortCallbacks.delete(signal);
        for (const run of created) run();
      },
      { once: true },
    );
  }
  const registered = callbacks;
  registered.add(callback);
  return () => registered.delete(callback);
}
