import { type CacheTier, ZarrsCacheError, assertKnownOptions, assertTier, configName, configNumber, configTtl } from "@zarrs-cache/core";
import type { DiskOptions } from "./disk-level.js";

export interface HybridMemoryOptions {
  /** Bytes the memory level may hold: payloads plus a per-entry overhead estimate. */
  maxBytes: number;
  /** Largest value kept in memory (default: maxBytes); bigger values live on disk only. */
  maxValueBytes?: number;
  /** Estimated bookkeeping bytes per entry (default 128, plus 2 bytes per key character). */
  entryOverhead?: number;
}

export interface HybridOptions {
  /** The memory level (the hot set). */
  memory: HybridMemoryOptions;
  /** Options for the disk level, passed to `disk()` from @zarrs-cache/disk. Its `ttl`, if any, is the hybrid's default TTL. */
  disk?: DiskOptions;
  /**
   * Advanced: use this tier as the lower level instead of `disk(options.disk)`, e.g.
   * `compressed(disk(...))`. The hybrid owns it and closes it. It should be process-local
   * (the hybrid does not listen to invalidations from other processes).
   */
  diskTier?: CacheTier;
  /** Accesses per second at which a disk-level entry is promoted to memory (default 1). 0 promotes on every disk hit. */
  promotionThreshold?: number;
  /** Ms without access after which a memory entry is demoted to disk (default 300 000 = 5 min). */
  demotionAfter?: number;
  /** Ms between maintenance passes (default 30 000). 0 runs no timer; call `maintain()` yourself. */
  maintenanceInterval?: number;
  /** Default TTL in ms for entries set without one (default: `disk.ttl`, else no expiry). */
  ttl?: number;
  /** Name in stats and events (default "hybrid"). */
  name?: string;
  /**
   * The clock for access rates and idleness, in ms (default `Date.now`). Entry expiry always
   * uses `Date.now()`, as `CacheEntry.expiresAt` is defined on that clock.
   */
  now?: () => number;
}

export interface ResolvedOptions {
  memory: HybridMemoryOptions;
  promotionThreshold: number;
  demotionAfter: number;
  maintenanceInterval: number;
  ttl: number | undefined;
  /**
   * False with a `diskTier`: it may apply a default TTL of its own, so a write without a TTL
   * reads the expiry back before the value enters memory.
   */
  lowerExpiryKnown: boolean;
  name: string;
  now: () => number;
}

const OWNER = "hybrid()";
const TOP_LEVEL = ["memory", "disk", "diskTier", "promotionThreshold", "demotionAfter", "maintenanceInterval", "ttl", "name", "now"];
const MEMORY_KEYS = ["maxBytes", "maxValueBytes", "entryOverhead"];

/** Checks every option; throws INVALID_CONFIG naming the first bad one. */
export function resolveOptions(options: HybridOptions): ResolvedOptions {
  if (!isObject(options)) {
    fail(`options must be an object like { memory: { maxBytes }, disk: { dir, maxBytes } }`);
  }
  rejectUnknown(options, TOP_LEVEL, "");
  const mem = options.memory;
  if (!isObject(mem)) fail(`option "memory" must be an object like { maxBytes: 256 * 1024 * 1024 }`);
  if ("ttl" in mem) fail(`option "memory.ttl" is not supported: set "ttl" on hybrid() so both levels expire together`);
  rejectUnknown(mem, MEMORY_KEYS, "memory.");
  configNumber(OWNER, "memory.maxBytes", mem.maxBytes, { min: 1, integer: true });
  configNumber(OWNER, "memory.maxValueBytes", mem.maxValueBytes, { min: 0, integer: true, optional: true });
  configNumber(OWNER, "memory.entryOverhead", mem.entryOverhead, { min: 0, integer: true, optional: true });

  if (options.diskTier !== undefined) {
    if (options.disk !== undefined) fail(`give either option "disk" or option "diskTier", not both`);
    assertTier(options.diskTier, `${OWNER}: option "diskTier" must be a CacheTier`);
  } else if (!isObject(options.disk)) {
    fail(`option "disk" must be an object like { dir: ".zarr-cache", maxBytes: 10 * 1024 ** 3 }`);
  }

  configNumber(OWNER, "promotionThreshold", options.promotionThreshold, { min: 0, optional: true });
  configNumber(OWNER, "demotionAfter", options.demotionAfter, { min: 1, optional: true });
  configNumber(OWNER, "maintenanceInterval", options.maintenanceInterval, { min: 0, optional: true });
  // setInterval caps delays at 2^31-1 ms; a bigger one would silently fire at once.
  if (options.maintenanceInterval !== undefined && options.maintenanceInterval > 2 ** 31 - 1) {
    fail(`option "maintenanceInterval" must be at most ${2 ** 31 - 1} ms, got ${options.maintenanceInterval}`);
  }
  const diskTtl = isObject(options.disk) ? (options.disk as { ttl?: unknown }).ttl : undefined;
  configTtl(OWNER, "ttl", options.ttl);
  configTtl(OWNER, "disk.ttl", diskTtl);
  configName(OWNER, options.name);
  if (options.now !== undefined && typeof options.now !== "function") fail(`option "now" must be a function returning ms`);

  return {
    memory: mem,
    promotionThreshold: options.promotionThreshold ?? 1,
    demotionAfter: options.demotionAfter ?? 300_000,
    maintenanceInterval: options.maintenanceInterval ?? 30_000,
    ttl: options.ttl ?? (diskTtl as number | undefined),
    lowerExpiryKnown: options.diskTier === undefined,
    name: options.name ?? "hybrid",
    now: options.now ?? (() => Date.now()),
  };
}

function rejectUnknown(object: object, allowed: string[], path: string): void {
  assertKnownOptions(OWNER, object, allowed, path);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(message: string): never {
  throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: ${message}`);
}
