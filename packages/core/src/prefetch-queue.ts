import { isZarrsCacheError, ZarrsCacheError } from "./errors.js";
import { assertKnownOptions, describe } from "./validate.js";
import type { KeyKind } from "./zarr-keys.js";

/** Which tiers a prefetch fills: every tier ("all", the default) or all but the first ("lower"). */
export type PrefetchTarget = "all" | "lower";

export interface PrefetchOptions {
  kind?: KeyKind;
  /** Aborting cancels the loads of this prefetch that no reader joined, and starts no new one. */
  signal?: AbortSignal;
  /** Higher first among prefetches waiting to start (default 0). */
  priority?: number;
  /** At most this many loads of this call at once (default 4). */
  concurrency?: number;
  /**
   * "lower" keeps the bytes out of the first tier (a small L1): they land in the tiers below it,
   * and a reader's hit there copies them up. With a single tier, "lower" means that tier.
   */
  target?: PrefetchTarget;
  /**
   * Loads the keys of this call instead of the loaders registered with `registerLoader` (used by
   * `warmRegion` to slice one coalesced range read into the exact range keys zarrita reads).
   */
  load?: (key: string, signal: AbortSignal) => Promise<Uint8Array | undefined>;
  /** Called once per key as soon as its prefetch ends (progress reporting). */
  onOutcome?: (outcome: PrefetchOutcome) => void;
}

/**
 * How the prefetch of one key ended:
 * - "loaded": read from upstream (`bytes` long; "absent" when upstream has no such key),
 * - "cached": a tier already held it (or a load of it was already in flight),
 * - "failed": the load failed (reported as an `error` event),
 * - "cancelled": the prefetch's signal aborted first,
 * - "unknown": no loader knows the key and no tier had it.
 * `late` is true when a reader joined the load before it ended (the prefetch came late).
 */
export interface PrefetchOutcome {
  key: string;
  status: "loaded" | "absent" | "cached" | "failed" | "cancelled" | "unknown";
  bytes: number;
  late: boolean;
}

/** What a flight started by a prefetch carries (see TieredCache). */
export interface Speculation {
  target: PrefetchTarget;
  /** A reader joined: from then on the flight counts as demand. */
  promoted: boolean;
  /** The loader was called (the value came from upstream, not from a tier). */
  loaded: boolean;
}

const DEFAULT_CONCURRENCY = 4;
const OPTION_NAMES = ["kind", "signal", "priority", "concurrency", "target", "load", "onOutcome"];

/** Checks prefetch options beyond `kind` and `signal` (checked with the load options). */
export function assertPrefetchOptions(options: PrefetchOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `prefetch(): options must be an object, got ${describe(options)}`);
  }
  const bad = (name: string, must: string, value: unknown) =>
    new ZarrsCacheError("INVALID_ARGUMENT", `prefetch(): option "${name}" ${must}, got ${describe(value)}`);
  try {
    assertKnownOptions("prefetch()", options, OPTION_NAMES);
  } catch (error) {
    // A call's options are an argument, not configuration.
    throw isZarrsCacheError(error) ? new ZarrsCacheError("INVALID_ARGUMENT", error.message) : error;
  }
  const { priority, concurrency, target, onOutcome } = options;
  if (priority !== undefined && !Number.isFinite(priority)) throw bad("priority", "must be a finite number", priority);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw bad("concurrency", "must be a positive integer", concurrency);
  }
  if (target !== undefined && target !== "all" && target !== "lower") throw bad("target", 'must be "all" or "lower"', target);
  if (onOutcome !== undefined && typeof onOutcome !== "function") throw bad("onOutcome", "must be a function", onOutcome);
  if (options.load !== undefined && typeof options.load !== "function") throw bad("load", "must be a function", options.load);
}

export function concurrencyOf(options: PrefetchOptions | undefined): number {
  return options?.concurrency ?? DEFAULT_CONCURRENCY;
}

interface Waiting {
  priority: number;
  order: number;
  start: () => void;
}

const NOTHING = () => undefined;

/** Background loads (priority below 0) upstream at once while demand is recent (see PrefetchGate). */
export const RECENT_DEMAND_LIMIT = 1;
/** Demand counts as recent for this many of its own load times after its last load ended. */
const HOLD_FACTOR = 4;
const HOLD_MIN_MS = 50;
const HOLD_MAX_MS = 2_000;

/**
 * Demand first. Speculative loads wait here while any demand load is waiting upstream, and start
 * by priority (then first come, first served) once none is. A started load is never paused, so
 * background work — loads with a priority below 0, such as `warmRegion`'s — is also kept small
 * while demand is *recent*: for `HOLD_FACTOR` times the demand loads' usual time after one ended
 * (at least `HOLD_MIN_MS`; a reader's own work between two misses can take a while),
 * at most `RECENT_DEMAND_LIMIT` of them are upstream. A reader that misses chunk after chunk (a
 * short pause between its loads) thus finds the upstream's connections, the server's slots and
 * this process's time nearly all its own, instead of racing a burst of bulk loads started in
 * each pause; the bulk work still moves (one load at a time) and gets its full concurrency back
 * once the reader stops missing. Prefetches at priority 0 and above (a strategy predicting this
 * reader's next reads) are not held back that way: holding them would turn them into its misses.
 */
export class PrefetchGate {
  private readonly waiting: Waiting[] = [];
  private order = 0;
  /** Background loads admitted and not done. */
  private background = 0;
  /** When the last demand load left upstream, and a moving average of how long they take. */
  private lastDemandEnd = Number.NEGATIVE_INFINITY;
  private demandMs: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly demandUpstream: () => number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Resolves when a speculative load may start, with the function to call once it ended; rejects
   * with the signal's reason if it aborts first.
   */
  admit(priority: number, signal: AbortSignal | undefined): Promise<() => void> {
    if (this.waiting.length === 0 && this.mayStart(priority)) return Promise.resolve(this.started(priority));
    return new Promise((resolve, reject) => {
      const entry: Waiting = { priority, order: this.order++, start: () => resolve(this.started(priority)) };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i !== -1) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      if (signal) {
        signal.addEventListener("abort", onAbort, { once: true });
        entry.start = () => {
          signal.removeEventListener("abort", onAbort);
          resolve(this.started(priority));
        };
      }
      this.insert(entry);
      this.release();
    });
  }

  get size(): number {
    return this.waiting.length;
  }

  /** A demand load left upstream after `ms`: starts what may start now. */
  demandEnded(ms: number): void {
    this.demandMs = this.demandMs === undefined ? ms : this.demandMs + 0.2 * (ms - this.demandMs);
    this.lastDemandEnd = this.now();
    this.release();
  }

  /** Starts waiting loads while no demand load is upstream, within the limit while demand is recent. */
  release(): void {
    while (this.waiting.length > 0 && this.mayStart(this.waiting[0]!.priority)) this.waiting.shift()!.start();
    const hold = this.holdLeft();
    if (this.waiting.length > 0 && this.demandUpstream() === 0 && hold > 0 && this.timer === undefined) {
      // Nothing else would wake the waiting loads when the demand stays quiet: look again then.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.release();
      }, hold);
    }
  }

  /** Lets everything waiting go (the cache closed: each load then ends at once). */
  drain(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const entry of this.waiting.splice(0)) entry.start();
  }

  private mayStart(priority: number): boolean {
    if (this.demandUpstream() > 0) return false;
    return priority >= 0 || this.background < RECENT_DEMAND_LIMIT || this.holdLeft() <= 0;
  }

  /** How long demand still counts as recent (ms; 0 or less: it does not). */
  private holdLeft(): number {
    if (this.demandMs === undefined) return 0;
    const hold = Math.min(HOLD_MAX_MS, Math.max(HOLD_MIN_MS, HOLD_FACTOR * this.demandMs));
    return this.lastDemandEnd + hold - this.now();
  }

  private started(priority: number): () => void {
    if (priority >= 0) return NOTHING;
    this.background++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.background--;
      if (this.waiting.length > 0) this.release();
    };
  }

  private insert(entry: Waiting): void {
    // Highest priority first; equal priorities keep their order.
    let i = this.waiting.length;
    while (i > 0 && this.waiting[i - 1]!.priority < entry.priority) i--;
    this.waiting.splice(i, 0, entry);
  }
}

/** Runs `task` over `items` with at most `limit` at once; stops taking new items once `stop()` says so. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  stop: () => boolean,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
