import { ZarrsCacheError, assertKnownOptions, assertTtl, configNumber } from "@zarrs-cache/core";

export interface IndexedDbOptions {
  /** The IndexedDB database name (default "zarrs-cache"). Tiers with the same name share entries and the bound. */
  name?: string;
  /** Upper bound on bytes held by this database across every tab of the origin (payload plus overhead). */
  maxBytes: number;
  /** Default TTL in ms for entries set without one; omitted: no expiry. */
  ttl?: number;
  /** Largest single value accepted (default: maxBytes). */
  maxValueBytes?: number;
  /** Estimated bookkeeping bytes per entry, added to its size (default 64, plus 2 bytes per key character). */
  entryOverhead?: number;
  /** Tell other tabs about writes and invalidations over a BroadcastChannel (default true). */
  broadcast?: boolean;
  /**
   * The IDBFactory to open the database with (default: the page's `indexedDB`). A Storage Bucket's
   * `bucket.indexedDB` gives the cache its own quota and eviction policy in Chromium.
   */
  factory?: IDBFactory;
  /** How long hits are batched before their access times are written (ms, default 1000). */
  touchDelay?: number;
}

export interface ResolvedOptions {
  dbName: string;
  maxBytes: number;
  ttl: number | undefined;
  maxValueBytes: number;
  entryOverhead: number;
  broadcast: boolean;
  touchDelay: number;
  factory: IDBFactory | undefined;
}

const KNOWN = ["name", "maxBytes", "ttl", "maxValueBytes", "entryOverhead", "broadcast", "touchDelay", "factory"];
const OWNER = "indexedDb()";

export function resolveOptions(options: IndexedDbOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: options must be an object like { maxBytes: 512 * 1024 * 1024 }`);
  }
  assertKnownOptions(OWNER, options, KNOWN);
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: option "name" must be a non-empty string`);
  }
  configNumber(OWNER, "maxBytes", options.maxBytes, { min: 1, integer: true });
  configNumber(OWNER, "maxValueBytes", options.maxValueBytes, { min: 0, integer: true, optional: true });
  configNumber(OWNER, "entryOverhead", options.entryOverhead, { min: 0, integer: true, optional: true });
  configNumber(OWNER, "touchDelay", options.touchDelay, { min: 0, optional: true });
  if (options.broadcast !== undefined && typeof options.broadcast !== "boolean") {
    throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: option "broadcast" must be a boolean`);
  }
  if (options.factory !== undefined && typeof (options.factory as { open?: unknown })?.open !== "function") {
    throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: option "factory" must be an IDBFactory (such as a storage bucket's indexedDB)`);
  }
  try {
    assertTtl(options.ttl, `${OWNER}: option "ttl"`);
  } catch (error) {
    throw new ZarrsCacheError("INVALID_CONFIG", (error as Error).message);
  }
  return {
    dbName: options.name ?? "zarrs-cache",
    maxBytes: options.maxBytes,
    ttl: options.ttl,
    maxValueBytes: Math.min(options.maxValueBytes ?? options.maxBytes, options.maxBytes),
    entryOverhead: options.entryOverhead ?? 64,
    broadcast: options.broadcast ?? true,
    touchDelay: options.touchDelay ?? 1000,
    factory: options.factory,
  };
}
