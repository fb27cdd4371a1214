import { ZarrsCacheError, assertKnownOptions, assertTtl, configNumber } from "@zarrs-cache/core";

export interface DiskOptions {
  /** Directory holding the cache (created if missing). Several processes may share it. */
  dir: string;
  /**
   * Upper bound on the bytes held by the whole directory, however many processes write to it
   * and however often it is reopened: payloads plus a per-entry overhead (see `entrySize`).
   * Least recently used entries are evicted past it.
   */
  maxBytes: number;
  /** Default TTL in ms for entries set without one; omitted: no expiry. */
  ttl?: number;
  /** Largest single value accepted (default: the smaller of maxBytes and 256 MiB; at most 512 MiB). */
  maxValueBytes?: number;
  /** Longest key accepted, in UTF-16 code units (default 8192). */
  maxKeyLength?: number;
  /**
   * Values of at least this many bytes are stored in a file of their own (named by a random id)
   * instead of inside the database (default 128 KiB). Set it above maxValueBytes to keep every
   * value in the database.
   */
  fileThreshold?: number;
  /** How long a write waits for another process holding the write lock, in ms (default 5000). */
  busyTimeout?: number;
  /**
   * How long a delete, prefix delete or clear leaves a tombstone, in ms (default 60000): a
   * read-through fill whose load began before the tombstone, or longer ago than this, is refused
   * (see the README, "Conditional fills"). Use one value for every process sharing `dir`, above
   * the TieredCache's `loadTimeout`.
   */
  tombstoneTtl?: number;
  /** Name in stats and events (default "disk"). */
  name?: string;
  /**
   * Cross-process single-flight (default on): when a process misses a key that another process
   * using the directory is loading, it waits for that value instead of loading it too. `false`
   * turns it off; an object tunes it. Only reads that will load take part (a TieredCache's
   * loads, `get(key, { load: true })`).
   */
  singleFlight?: boolean | DiskSingleFlightOptions;
  /**
   * Coherence (default on): other processes' writes, deletes, prefix deletes and clears of the
   * directory are reported through `onInvalidation`, so a TieredCache drops its stale copies in
   * the tiers above (memory) within `interval` plus the time to drop them. `false` turns it off.
   */
  coherence?: boolean | DiskCoherenceOptions;
}

export interface DiskSingleFlightOptions {
  /**
   * How long a lease lasts, in ms (default 10000). A lease whose owner's pid is gone from this host
   * is taken over at once; that of a live owner still loading (a slow upstream, a stuck load) only
   * after this. Keep `wait` below the TieredCache's `loadTimeout` (30 s by default), so a waiter
   * loads itself rather than time out.
   */
  leaseTtl?: number;
  /** Longest a process waits for another's load before loading itself, in ms (default: leaseTtl). */
  wait?: number;
  /** How often a waiting process looks for the owner's release in the change log, in ms (default 4). */
  poll?: number;
}

export interface DiskCoherenceOptions {
  /** How often the change log is polled for other processes' changes, in ms (default 100). */
  interval?: number;
}

const KNOWN_OPTIONS: readonly (keyof DiskOptions)[] = [
  "dir",
  "maxBytes",
  "ttl",
  "maxValueBytes",
  "maxKeyLength",
  "fileThreshold",
  "busyTimeout",
  "tombstoneTtl",
  "name",
  "singleFlight",
  "coherence",
];

export interface ResolvedDiskOptions {
  dir: string;
  maxBytes: number;
  ttl: number | undefined;
  maxValueBytes: number;
  maxKeyLength: number;
  fileThreshold: number;
  busyTimeout: number;
  tombstoneTtl: number;
  name: string;
  singleFlight: Required<DiskSingleFlightOptions> | undefined;
  coherence: Required<DiskCoherenceOptions> | undefined;
}

const MiB = 1024 * 1024;
/** SQLite refuses blobs over 1e9 bytes; reading one copies it twice. */
export const VALUE_BYTES_LIMIT = 512 * MiB;
export const DEFAULT_MAX_KEY_LENGTH = 8192;
/** Estimated bytes SQLite spends per row beyond the value and the key (row header, index entries). */
export const ENTRY_OVERHEAD = 64;

export const DEFAULT_FILE_THRESHOLD = 128 * 1024;
/** Default tombstone lifetime: the TieredCache's default loadTimeout (30 s) with a wide margin. */
export const DEFAULT_TOMBSTONE_TTL = 60_000;
export const DEFAULT_LEASE_TTL = 10_000;
export const DEFAULT_LEASE_POLL = 4;
export const DEFAULT_COHERENCE_INTERVAL = 100;

/**
 * Bytes an entry counts against maxBytes: the value (a value in its own file counts whole 4 KiB
 * blocks, what the file system sets aside), the encoded key twice (table and index), and overhead.
 */
export function entrySize(encodedKeyBytes: number, valueBytes: number, inFile: boolean): number {
  return (inFile ? Math.ceil(valueBytes / 4096) * 4096 : valueBytes) + 2 * encodedKeyBytes + ENTRY_OVERHEAD;
}

export function resolveOptions(options: DiskOptions): ResolvedDiskOptions {
  if (typeof options !== "object" || options === null) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      'disk(options): options must be an object like { dir: ".zarr-cache", maxBytes: 1024 ** 3 }',
    );
  }
  assertKnownOptions("disk()", options, KNOWN_OPTIONS);
  if (typeof options.dir !== "string" || options.dir.length === 0 || options.dir.includes("\0")) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `disk(): option "dir" must be a non-empty path string, got ${JSON.stringify(options.dir) ?? String(options.dir)}`,
    );
  }
  configNumber("disk()", "maxBytes", options.maxBytes, { min: 4096, integer: true });
  configNumber("disk()", "maxValueBytes", options.maxValueBytes, { min: 0, integer: true, optional: true });
  configNumber("disk()", "maxKeyLength", options.maxKeyLength, { min: 1, integer: true, optional: true });
  configNumber("disk()", "fileThreshold", options.fileThreshold, { min: 1, integer: true, optional: true });
  configNumber("disk()", "busyTimeout", options.busyTimeout, { min: 0, integer: true, optional: true });
  configNumber("disk()", "tombstoneTtl", options.tombstoneTtl, { min: 1, integer: true, optional: true });
  try {
    assertTtl(options.ttl, 'disk(): option "ttl"');
  } catch (error) {
    throw new ZarrsCacheError("INVALID_CONFIG", (error as Error).message);
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name.length === 0)) {
    throw new ZarrsCacheError("INVALID_CONFIG", 'disk(): option "name" must be a non-empty string');
  }
  if (options.maxValueBytes !== undefined && options.maxValueBytes > VALUE_BYTES_LIMIT) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `disk(): option "maxValueBytes" must be at most ${VALUE_BYTES_LIMIT} (512 MiB), got ${options.maxValueBytes}`,
    );
  }
  return {
    singleFlight: resolveSingleFlight(options.singleFlight),
    coherence: resolveCoherence(options.coherence),
    dir: options.dir,
    maxBytes: options.maxBytes,
    ttl: options.ttl,
    maxValueBytes: Math.min(options.maxValueBytes ?? 256 * MiB, options.maxBytes),
    maxKeyLength: options.maxKeyLength ?? DEFAULT_MAX_KEY_LENGTH,
    fileThreshold: options.fileThreshold ?? DEFAULT_FILE_THRESHOLD,
    busyTimeout: options.busyTimeout ?? 5000,
    tombstoneTtl: options.tombstoneTtl ?? DEFAULT_TOMBSTONE_TTL,
    name: options.name ?? "disk",
  };
}

function resolveSingleFlight(option: DiskOptions["singleFlight"]): Required<DiskSingleFlightOptions> | undefined {
  if (option === false) return undefined;
  const given = sectionOf("singleFlight", option);
  assertKnownOptions("disk()", given, ["leaseTtl", "wait", "poll"], "singleFlight.");
  configNumber("disk()", "singleFlight.leaseTtl", given.leaseTtl, { min: 1, integer: true, optional: true });
  configNumber("disk()", "singleFlight.wait", given.wait, { min: 0, integer: true, optional: true });
  configNumber("disk()", "singleFlight.poll", given.poll, { min: 1, integer: true, optional: true });
  const leaseTtl = given.leaseTtl ?? DEFAULT_LEASE_TTL;
  return { leaseTtl, wait: given.wait ?? leaseTtl, poll: given.poll ?? DEFAULT_LEASE_POLL };
}

function resolveCoherence(option: DiskOptions["coherence"]): Required<DiskCoherenceOptions> | undefined {
  if (option === false) return undefined;
  const given = sectionOf("coherence", option);
  assertKnownOptions("disk()", given, ["interval"], "coherence.");
  configNumber("disk()", "coherence.interval", given.interval, { min: 1, integer: true, optional: true });
  return { interval: given.interval ?? DEFAULT_COHERENCE_INTERVAL };
}

/** `true` or omitted: the defaults; an object: its fields. */
function sectionOf<T extends object>(name: string, option: boolean | T | undefined): Partial<T> {
  if (option === undefined || option === true) return {};
  if (typeof option !== "object" || option === null || Array.isArray(option)) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `disk(): option "${name}" must be true, false or an object, got ${JSON.stringify(option) ?? String(option)}`,
    );
  }
  return option;
}
