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

/**
 * Demand first: speculative loads wait here while any demand load is waiting upstream, and start
 * by priority (then first come, first served) once none is. A started load is never paused:
 * keep prefetch concurrency below what the upstream serves at once, so a demand read finds room.
 */
export class PrefetchGate {
  private readonly waiting: Waiting[] = [];
  private order = 0;

  constructor(private readonly demandUpstream: () => number) {}

  /** Resolves when a speculative load may start; rejects with the signal's reason if it aborts first. */
  admit(priority: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.waiting.length === 0 && this.demandUpstream() === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const entry: Waiting = { priority, order: this.order++, start: resolve };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i !== -1) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      if (signal) {
        signal.addEventListener("abort", onAbort, { once: true });
        entry.start = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      }
      this.insert(entry);
      this.release();
    });
  }

  get size(): number {
    return this.waiting.length;
  }

  /** Starts waiting loads while no demand load is upstream (called when a demand load ends). */
  release(): void {
    while (this.waiting.length > 0 && this.demandUpstream() === 0) this.waiting.shift()!.start();
  }

  /** Lets everything waiting go (the cache closed: each load then ends at once). */
  drain(): void {
    for (const entry of this.waiting.splice(0)) entry.start();
  }

  private insert(entry: Waiting): void {
    // Highest priority first; equal priorities keep their order.
    let i = this.waiting.length;
    while (i > 0 && this.waiting[i - 1]!.priority < entry.priority) i--;
    this.waiting.splice(i, 0, entry);
  }
}

/** Runs `task` over `items` with at most `limit` at once; stops taking new items once `stop()` says so. */
export async function eachLimited<T>(items: readonly T[], limit: number, stop: () => boolean, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
