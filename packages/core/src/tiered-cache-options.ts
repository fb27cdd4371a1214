import { ZarrsCacheError, isZarrsCacheError } from "./errors.js";
import type { TierStats } from "./types.js";
import { assertKnownOptions, configNumber, describe } from "./validate.js";
import type { KeyKind } from "./zarr-keys.js";

/**
 * Loads a value from upstream; undefined means the key does not exist there. `signal` fires when
 * the load is abandoned (every waiter gave up, `loadTimeout` passed, or the cache closed): pass it
 * on to the request so the upstream work stops too. A loader declared without a parameter
 * (`() => …`) is called without one, and the load then spares itself the AbortController.
 */
export type Loader = (signal: AbortSignal) => Promise<Uint8Array | undefined>;

export type WritePolicy = "write-through" | "write-around";

export const DEFAULT_LOAD_TIMEOUT = 30_000;

/** A time to live in ms (a positive number), or `false` for no expiry. */
export type Ttl = number | false;

/**
 * TTL classes: how long the cache keeps what a load brought in, by key kind. An omitted class
 * takes its default (`DEFAULT_TTL`); `false` means no expiry.
 */
export interface TtlClasses {
  /** zarr metadata (`zarr.json`, `.zarray`, `.zattrs`, `.zgroup`, `.zmetadata`); default 10 min. */
  metadata?: Ttl;
  /** chunks and shard ranges; default `false` (no expiry). */
  chunk?: Ttl;
  /** any other key; default `false` (no expiry). */
  other?: Ttl;
  /** a cached "does not exist" answer of the loader; default 10 min. */
  absent?: Ttl;
}

/** The TTL of each class when `createCache({ ttl })` leaves it out. */
export const DEFAULT_TTL: Readonly<Required<TtlClasses>> = Object.freeze({
  metadata: 10 * 60_000,
  chunk: false,
  other: false,
  absent: 10 * 60_000,
});

export interface TieredCacheOptions {
  /**
   * TTL classes in ms, or `false` for no expiry (see `TtlClasses`). An omitted class takes its
   * default: metadata and absent 10 min, chunk and other no expiry (`DEFAULT_TTL`).
   */
  ttl?: TtlClasses;
  /** Cache "absent" answers of the loader (default true). */
  negativeCaching?: boolean;
  /** write-through (default): store first, then cache the new value. write-around: invalidate. */
  writePolicy?: WritePolicy;
  /** Most fills of lower tiers in flight at once; past it a fill is skipped and counted (default 1024). */
  maxPendingWrites?: number;
  /**
   * Longest a load (lower-tier lookups plus the loader) may take, in ms (default 30 000). Past it
   * the load is abandoned: its signal aborts, its callers get a TIMEOUT error, nothing is cached,
   * and the next read starts a fresh load. `false` turns the bound off.
   */
  loadTimeout?: number | false;
  /**
   * How long a hold lasts, in ms (default 30 000). When a lower tier's update fails and may leave
   * the older value there (Redis during a partition), the tiers above it that support holds (a
   * shared disk directory) refuse fills of that key for this long, renewed while the failed tier
   * reports its repair pending, released once it is repaired (see `CacheTier.hold`).
   */
  holdTime?: number;
}

export interface LoadOptions {
  /** The TTL class of the key (default "other"). */
  kind?: KeyKind;
  /**
   * The TTL of what this load caches, in ms, or `false` for no expiry; overrides the `kind`'s
   * TTL class. An "absent" answer is cached for the shorter of this and the `absent` class. Only
   * the caller that starts a load sets it (callers that join a load in flight share its TTL);
   * a hit keeps the expiry its entry was stored with, and a lower-tier hit fills the tiers above
   * it with the entry's remaining TTL.
   */
  ttl?: Ttl;
  /**
   * Ends this caller's wait. The load itself is aborted (its loader's signal fires) only when
   * every caller waiting for it has aborted.
   */
  signal?: AbortSignal;
}

/** How one tier took a `write()`. */
export interface TierWriteOutcome {
  name: string;
  level: number;
  /** The tier took the update: it holds the new value (write-through) or no longer holds the key. */
  ok: boolean;
  /** The update and the clean-up after it both failed: the tier may still serve the old value. */
  mayBeStale: boolean;
  /** Why the update (or, when `mayBeStale`, the clean-up) failed. */
  error?: unknown;
}

/** What `write()` did to the cache once the store accepted the value. */
export interface WriteResult {
  key: string;
  /** "cached": the new value was written to the tiers; "invalidated": the key was removed from them. */
  action: "cached" | "invalidated";
  /** Every tier took the update. */
  ok: boolean;
  /** Some tier may still serve the value from before the write (see `tiers`). */
  mayBeStale: boolean;
  tiers: TierWriteOutcome[];
}

/**
 * What `TieredCache.stats()` reports: demand reads only (prefetches count as neither hit nor miss).
 */
export interface CacheStats extends TierStats {
  /** Reads answered by some tier (a cached "absent" included). */
  hits: number;
  /** Reads no tier could answer: each went to the loader (or, for `get()`, found nothing). */
  misses: number;
  /** hits / (hits + misses); 0 before the first read. Readers that joined a load in flight (`joins`) are in neither. */
  hitRate: number;
  /** Reads answered by a cached "absent" (also counted in `hits`). */
  absentHits: number;
  /** Loader calls, and those that threw. */
  loads: number;
  loadErrors: number;
  /** Readers that joined a load already in flight. */
  joins: number;
  /** Lower-tier hits copied into the tiers above. */
  backfills: number;
  /** Values a tier refused as too large (they live in the tiers that can hold them). */
  tooLarge: number;
  /** Loads abandoned by `loadTimeout`, and because every waiting caller aborted. */
  loadTimeouts: number;
  loadAborts: number;
  /** Fills of lower tiers in flight now, and fills skipped past `maxPendingWrites`. */
  pendingWrites: number;
  droppedWrites: number;
}

/** Per-level counters of a TieredCache, beside the tier's own stats. */
export interface LevelStats {
  name: string;
  level: number;
  /** Lookups this cache answered from this level. */
  hits: number;
  /** hits / lookups that reached this level. */
  hitRate: number;
  tier: TierStats;
}

const OPTION_NAMES = ["ttl", "negativeCaching", "writePolicy", "maxPendingWrites", "loadTimeout", "holdTime"] as const;
const TTL_NAMES = ["metadata", "chunk", "other", "absent"] as const;
const KINDS: readonly string[] = ["metadata", "chunk", "other"];
const LOAD_OPTION_NAMES = ["kind", "signal", "ttl"] as const;

/** Checks createCache()/TieredCache options; throws INVALID_CONFIG naming the option. */
export function validateCacheOptions(options: TieredCacheOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new ZarrsCacheError("INVALID_CONFIG", `createCache(options): options must be an object, got ${describe(options)}`);
  }
  assertKnownOptions("createCache()", options, OPTION_NAMES);
  if (options.ttl !== undefined) {
    if (typeof options.ttl !== "object" || options.ttl === null) {
      const got = describe(options.ttl);
      throw new ZarrsCacheError("INVALID_CONFIG", `createCache(): option "ttl" must be an object like { chunk: 60000 }, got ${got}`);
    }
    assertKnownOptions("createCache()", options.ttl, TTL_NAMES, "ttl.");
    for (const [kind, value] of Object.entries(options.ttl)) assertTtlOption("INVALID_CONFIG", "createCache()", `ttl.${kind}`, value);
  }
  if (options.writePolicy !== undefined && options.writePolicy !== "write-through" && options.writePolicy !== "write-around") {
    const got = describe(options.writePolicy);
    const message = `createCache(): option "writePolicy" must be "write-through" or "write-around", got ${got}`;
    throw new ZarrsCacheError("INVALID_CONFIG", message);
  }
  if (options.negativeCaching !== undefined && typeof options.negativeCaching !== "boolean") {
    const got = describe(options.negativeCaching);
    throw new ZarrsCacheError("INVALID_CONFIG", `createCache(): option "negativeCaching" must be a boolean, got ${got}`);
  }
  configNumber("createCache()", "maxPendingWrites", options.maxPendingWrites, { min: 1, integer: true, optional: true });
  configNumber("createCache()", "holdTime", options.holdTime, { min: 3, optional: true });
  const timeout = options.loadTimeout;
  if (timeout !== undefined && timeout !== false && (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout < 1)) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `createCache(): option "loadTimeout" must be a number of ms >= 1, or false for no bound, got ${describe(timeout)}`,
    );
  }
}

/**
 * Checks a TTL option: undefined (the default), a positive finite number of ms, or `false` for no
 * expiry. 0, Infinity and null are refused by name: caches disagree on what they mean.
 */
export function assertTtlOption(code: "INVALID_CONFIG" | "INVALID_ARGUMENT", owner: string, name: string, value: unknown): void {
  if (value === undefined || value === false) return;
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return;
  const hint =
    value === 0 || value === Number.POSITIVE_INFINITY || value === null
      ? " (ambiguous: use false for no expiry, or leave the option out for the default)"
      : "";
  throw new ZarrsCacheError(
    code,
    `${owner}: option "${name}" must be a positive number of ms, or false for no expiry, got ${describe(value)}${hint}`,
  );
}

/** The TTL classes with defaults applied: ms, or undefined for no expiry. */
export function ttlClassesOf(options: TieredCacheOptions): Record<KeyKind | "absent", number | undefined> {
  const given = options.ttl ?? {};
  const pick = (name: keyof TtlClasses) => msOrNever(given[name] ?? DEFAULT_TTL[name]);
  return { metadata: pick("metadata"), chunk: pick("chunk"), other: pick("other"), absent: pick("absent") };
}

/** A checked TTL as the tiers take it: ms, or undefined for no expiry. */
export function msOrNever(ttl: Ttl): number | undefined {
  return ttl === false ? undefined : ttl;
}

/** The load timeout in ms, or undefined for none. */
export function loadTimeoutOf(options: TieredCacheOptions): number | undefined {
  const timeout = options.loadTimeout;
  return timeout === false ? undefined : (timeout ?? DEFAULT_LOAD_TIMEOUT);
}

/**
 * Checks the loader and options of `getOrLoad`/`load`; throws INVALID_ARGUMENT naming the bad one.
 * Cheap (no allocation) when everything is fine: it runs on every call, hits included.
 */
export function assertLoadArguments(method: string, loader: unknown, options: LoadOptions | undefined): void {
  if (typeof loader !== "function") {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `${method}(key, loader): loader must be a function, got ${describe(loader)}`);
  }
  if (options === undefined) return;
  assertLoadOptions(method, options);
}

export function assertLoadOptions(method: string, options: unknown): asserts options is LoadOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `${method}(): options must be an object, got ${describe(options)}`);
  }
  for (const name in options) {
    if (name !== "kind" && name !== "signal" && name !== "ttl") unknownLoadOption(method, options);
  }
  const { kind, signal, ttl } = options as LoadOptions;
  if (ttl !== undefined) assertTtlOption("INVALID_ARGUMENT", `${method}()`, "ttl", ttl);
  if (kind !== undefined && !KINDS.includes(kind)) {
    const got = describe(kind);
    throw new ZarrsCacheError("INVALID_ARGUMENT", `${method}(): option "kind" must be "metadata", "chunk" or "other", got ${got}`);
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `${method}(): option "signal" must be an AbortSignal, got ${describe(signal)}`);
  }
}

function unknownLoadOption(method: string, options: object): never {
  try {
    assertKnownOptions(`${method}()`, options, LOAD_OPTION_NAMES);
  } catch (error) {
    // A call's options are an argument, not configuration.
    if (isZarrsCacheError(error)) throw new ZarrsCacheError("INVALID_ARGUMENT", error.message);
    throw error;
  }
  throw new ZarrsCacheError("INVALID_ARGUMENT", `${method}(): unknown option`);
}

/** An AbortSignal, also one from another realm or a polyfill. */
function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof AbortSignal !== "undefined" && value instanceof AbortSignal) return true;
  const candidate = value as Partial<AbortSignal> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.aborted === "boolean" &&
    typeof candidate.addEventListener === "function" &&
    typeof candidate.removeEventListener === "function"
  );
}
