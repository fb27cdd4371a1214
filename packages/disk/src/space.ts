import { ZarrsCacheError } from "@zarrs-cache/core";
import { encodeKey } from "./keys.js";
import { ENTRY_OVERHEAD, VALUE_BYTES_LIMIT } from "./options.js";
import type { Statements } from "./statements.js";

export type DropReason = "evict" | "expire";

/** What a write transaction removed besides its own change; applied to the counters after commit. */
export interface Removed {
  evicted: number;
  expired: number;
  /** Times the totals row disagreed with the rows (or was implausible) and was recounted. */
  totalsRepaired: number;
  /** Rows deleted because their size was impossible (damage). */
  corrupt: number;
  /** Files of removed rows, deleted once the transaction has committed. */
  blobs: string[];
  /** Keys evicted or expired, collected only while someone listens. */
  dropped: [key: Buffer, reason: DropReason][] | undefined;
  /** The bound in force that makeRoom found (0 when it did not run). */
  limit: number;
}

export function nothingRemoved(listening = false): Removed {
  return { evicted: 0, expired: 0, totalsRepaired: 0, corrupt: 0, blobs: [], dropped: listening ? [] : undefined, limit: 0 };
}

export function collectBlob(removed: Removed, blob: unknown): void {
  if (typeof blob === "string") removed.blobs.push(blob);
}

/** Writes queued access times (only moving them forward: another process may have a later one). */
export function writeTouches(sql: Statements, touches: Map<string, number>): void {
  for (const [key, at] of touches) sql.touch.run(at, encodeKey(key), at);
}

const EVICTION_BATCH = 64;
/** Expired entries a write reclaims in passing, at most once a second (all of them when the directory is full). */
export const SWEEP_BATCH = 1000;
/** The smallest bound ever enforced: a stored bound or full-disk limit below it is damage, not a setting. */
export const MIN_BOUND = 4096;
/** No entry is smaller (overhead plus a one-unit key twice) or larger than these. */
const MIN_ENTRY = ENTRY_OVERHEAD + 4;
const MAX_ENTRY = VALUE_BYTES_LIMIT + 64 * 1024 * 1024;

export type Totals = [entries: number, bytes: number, bound: number, fullLimit: number];

/** The bound a write enforces: this process's maxBytes, the directory's shared bound, and the full-disk limit, whichever is smallest. */
export function effectiveLimit(own: number, bound: number, fullLimit: number): number {
  let limit = own;
  if (bound >= MIN_BOUND && bound < limit) limit = bound;
  if (fullLimit >= MIN_BOUND && fullLimit < limit) limit = fullLimit;
  return limit;
}

/**
 * Whether the totals row can be right: no negative counts, every entry at least its overhead, and
 * no more than twice this process's maxBytes (every process trims the directory to at most its own).
 */
function plausible(totals: Totals | undefined, own: number): totals is Totals {
  if (totals === undefined) return false;
  const [entries, bytes] = totals;
  return Number.isSafeInteger(entries) && Number.isSafeInteger(bytes) && entries >= 0 && bytes >= entries * MIN_ENTRY && bytes <= 2 * own;
}

/**
 * Within a write transaction: recounts the totals from the rows (a scan of the small access index),
 * first deleting rows whose size is impossible. Counts a repair when the row was wrong.
 */
export function verifyTotals(sql: Statements, removed: Removed): Totals {
  for (const blob of sql.deleteBadSizes.all(MIN_ENTRY, MAX_ENTRY) as (string | null)[]) {
    removed.corrupt++;
    collectBlob(removed, blob);
  }
  const stored = sql.totals.get() as Totals | undefined;
  const [entries, bytes] = sql.countRows.get() as [number, number];
  if (stored === undefined || stored[0] !== entries || stored[1] !== bytes) {
    sql.ensureTotalsRow.run();
    sql.recountTotals.run();
    removed.totalsRepaired++;
  }
  return sql.totals.get() as Totals;
}

/** The totals of the directory, recounted first when they are implausible. */
export function readTotals(sql: Statements, own: number, removed: Removed): Totals {
  const totals = sql.totals.get() as Totals | undefined;
  return plausible(totals, own) ? totals : verifyTotals(sql, removed);
}

export interface Room {
  /** This process's maxBytes. */
  own: number;
  /** A key never evicted by this call (the one just written). */
  keep: Buffer;
  now: number;
  /** Expired entries to reclaim in passing (all of them when over the bound). */
  sweepLimit: number;
  /** The size of the entry just written: refused (VALUE_TOO_LARGE) when above the bound in force. */
  incoming?: number;
  /** Called while a full-disk limit is in force: returns the limit raised as space came back (or unchanged). */
  growFullLimit?: (fullLimit: number, ceiling: number) => number;
}

/**
 * Within a write transaction: reclaims expired entries (all of them when the directory is over its
 * bound, else up to `sweepLimit`), then evicts least recently used entries other than `keep` until
 * the directory fits. The totals are the database's own, so they count every process's entries.
 * Returns the bound enforced.
 */
export function makeRoom(sql: Statements, room: Room, removed: Removed): number {
  let [, bytes, bound, fullLimit] = readTotals(sql, room.own, removed);
  if (fullLimit > 0 && room.growFullLimit !== undefined) {
    const grown = room.growFullLimit(fullLimit, effectiveLimit(room.own, bound, 0));
    if (grown !== fullLimit) {
      sql.setFullLimit.run(grown);
      fullLimit = grown;
    }
  }
  const limit = effectiveLimit(room.own, bound, fullLimit);
  removed.limit = limit;
  if (room.incoming !== undefined && room.incoming > limit) {
    throw new ZarrsCacheError(
      "VALUE_TOO_LARGE",
      `an entry of ${room.incoming} bytes does not fit the directory's bound in force (${limit} bytes)`,
    );
  }
  const over = bytes > limit;
  if (over || room.sweepLimit > 0) {
    const rows = sql.deleteExpired.all(room.now, over ? Number.MAX_SAFE_INTEGER : room.sweepLimit) as [string | null, Buffer][];
    removed.expired += rows.length;
    for (const [blob, key] of rows) {
      collectBlob(removed, blob);
      removed.dropped?.push([key, "expire"]);
    }
    if (rows.length > 0) bytes = (sql.totals.get() as Totals)[1];
  }
  let recounted = false;
  while (bytes > limit) {
    const victims = sql.lru.all(room.keep, EVICTION_BATCH) as [number, number, string | null, Buffer][];
    if (victims.length === 0) {
      if (recounted) return limit;
      // Over the bound with nothing left to evict: the total is wrong.
      recounted = true;
      bytes = verifyTotals(sql, removed)[1];
      continue;
    }
    for (const [id, size, blob, key] of victims) {
      sql.deleteId.get(id);
      collectBlob(removed, blob);
      removed.evicted++;
      removed.dropped?.push([key, "evict"]);
      bytes -= size;
      if (bytes <= limit) return limit;
    }
  }
  return limit;
}
