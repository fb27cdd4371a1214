import { type CacheTier, ZarrsCacheError, isZarrsCacheError } from "@zarrs-cache/core";
import { type DiskOptions, disk } from "@zarrs-cache/disk";

export type { DiskOptions };

/** The default disk level: a SQLite-backed tier from @zarrs-cache/disk; its config errors name hybrid's "disk" option. */
export function openDiskLevel(options: DiskOptions): CacheTier {
  try {
    return disk(options);
  } catch (error) {
    if (isZarrsCacheError(error, "INVALID_CONFIG")) {
      throw new ZarrsCacheError("INVALID_CONFIG", `hybrid(): option "disk": ${error.message}`, { cause: error });
    }
    throw error;
  }
}
