import { encodeKey } from "./keys.js";
import type { Statements } from "./statements.js";

/** What a write transaction removed besides its own change; applied to the counters after commit. */
export interface Removed {
  evicted: number;
  expired: number;
  /** Files of removed rows, deleted once the transaction has committed. */
  blobs: string[];
}

export function nothingRemoved(): Removed {
  return { evicted: 0, expired: 0, blobs: [] };
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

/**
 * Within a write transaction: reclaims expired entries (all of them when the directory is over
 * `maxBytes`, else up to `sweepLimit`), then evicts least recently used entries other than `keep`
 * until the directory fits. The byte total is the database's own, so it counts every process's entries.
 */
export function makeRoom(sql: Statements, maxBytes: number, keep: Buffer, now: number, sweepLimit: number, removed: Removed): void {
  let bytes = (sql.totals.get() as [number, number])[1];
  const over = bytes > maxBytes;
  if (over || sweepLimit > 0) {
    const blobs = sql.deleteExpired.all(now, over ? Number.MAX_SAFE_INTEGER : sweepLimit) as (string | null)[];
    removed.expired += blobs.length;
    for (const blob of blobs) collectBlob(removed, blob);
    if (blobs.length > 0) bytes = (sql.totals.get() as [number, number])[1];
  }
  while (bytes > maxBytes) {
    const victims = sql.lru.all(keep, EVICTION_BATCH) as [number, number, string | null][];
    if (victims.length === 0) return;
    for (const [id, size, blob] of victims) {
      sql.deleteId.get(id);
      collectBlob(removed, blob);
      removed.evicted++;
      bytes -= size;
      if (bytes <= maxBytes) return;
    }
  }
}
