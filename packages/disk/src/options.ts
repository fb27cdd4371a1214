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

/**
 * Bytes an entry counts against maxBytes: the value (a value in its own file counts whole 4 KiB
 * blocks, what the file system sets aside), the encoded key twice (table and index), and overhead.
 */
export function entrySize(encodedKeyBytes: number, valueBytes: number, inFile: boolean): number {
  return (inFile ? Math.ceil(valueBytes / 4096) * 4096 : valueBytes) + 2 * encodedKeyBytes + ENTRY_OVERHEAD;
}

export function resolveOptions(options: DiskOptions): ResolvedDiskOptions {
  if (typeof options !== "object" || options === null) {
    throw new ZarrsCacheError("INVALID_CONFIG", 'disk(options): options must be an object like { dir: ".zarr-cache", maxBytes: 1024 ** 3 }');
  }
  assertKnownOptions("disk()", options, KNOWN_OPTIONS);
  if (typeof options.dir !== "string" || options.dir.length === 0 || options.dir.includes("\0")) {
    throw new ZarrsCacheError("INVALID_CONFIG", `disk(): option "dir" must be a non-empty path string, got ${JSON.stringify(options.dir) ?? String(options.dir)}`);
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
    throw new ZarrsCacheError("INVALID_CONFIG", `disk(): option "maxValueBytes" must be at most ${VALUE_BYTES_LIMIT} (512 MiB), got ${options.maxValueBytes}`);
  }
  return {
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
