import fs from "node:fs";
import { MIN_BOUND } from "./space.js";

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/** The file system (or a quota) has no room left: for SQLite or for a value file. */
export function isFull(error: unknown): boolean {
  const code = errorCode(error) || errorCode((error as { cause?: unknown } | null)?.cause);
  return code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT";
}

/** On a full file system the bound in force drops to this share of what the directory holds. */
export const FULL_SHRINK = 0.9;
/** Space is looked for again at most this often while a full-disk limit is in force, in ms. */
const GROW_CHECK_MS = 1000;
/** Below this much free space, the limit is not raised. */
const GROW_MIN_FREE = 64 * 1024;

/** The full-disk limit after the file system refused a write: 90% of what the directory holds (and of the limit in force). */
export function shrunkLimit(limitInForce: number, bytesHeld: number): number {
  return Math.max(MIN_BOUND, Math.floor(Math.min(limitInForce, bytesHeld) * FULL_SHRINK));
}

/** Bytes free to an unprivileged writer on the file system holding `dir`; undefined when it cannot be asked. */
export function freeBytes(dir: string): number | undefined {
  try {
    const stats = fs.statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/**
 * Raises a full-disk limit as space comes back: at most once a second, by half the free space
 * (so the cache never takes all of it in one step); 0 (no limit) once it reaches `ceiling`.
 */
export function growthCheck(dir: string, now: () => number = Date.now): (fullLimit: number, ceiling: number) => number {
  let lastCheck = 0;
  return (fullLimit, ceiling) => {
    if (fullLimit >= ceiling) return 0;
    const at = now();
    if (at - lastCheck < GROW_CHECK_MS) return fullLimit;
    lastCheck = at;
    const free = freeBytes(dir);
    if (free === undefined || free < GROW_MIN_FREE) return fullLimit;
    const grown = fullLimit + Math.floor(free / 2);
    return grown >= ceiling ? 0 : grown;
  };
}
