import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const BLOB_DIR = "blobs";
const ID_PATTERN = /^[0-9a-f]{32}$/;

/**
 * Large values, one immutable file each, named by a random id (never by the key). A file is
 * written completely before any database row points at it and is removed only after the row
 * that pointed at it is gone, so a reader never sees a file being written. A crash between the
 * two steps leaves an unreferenced file, which `sweepOrphans` removes later.
 */
export class BlobStore {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = path.join(cacheDir, BLOB_DIR);
  }

  ensureDir(): void {
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Ids come from the database: anything but our own format is damage, never a path to follow. */
  static isValidId(id: unknown): id is string {
    return typeof id === "string" && ID_PATTERN.test(id);
  }

  /** Writes `value` to a new file and returns its id. On failure nothing is left behind. */
  write(value: Uint8Array): string {
    const id = randomBytes(16).toString("hex");
    const file = path.join(this.dir, id);
    try {
      writeNew(file, value);
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw discardPartial(file, error);
      // The blob directory was deleted behind our back: recreate it once.
      this.ensureDir();
      try {
        writeNew(file, value);
      } catch (again) {
        throw discardPartial(file, again);
      }
    }
    return id;
  }

  /** The bytes of a blob, or undefined when its file is gone (or replaced by a folder, or its folder by a file). */
  read(id: string): Buffer | undefined {
    try {
      return fs.readFileSync(path.join(this.dir, id));
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return undefined;
      throw error;
    }
  }

  /** Removes blobs; a missing file is fine. Returns how many removals failed. */
  remove(ids: Iterable<string>): number {
    let failed = 0;
    for (const id of ids) {
      if (!BlobStore.isValidId(id)) continue;
      try {
        fs.rmSync(path.join(this.dir, id), { force: true });
      } catch {
        failed++;
      }
    }
    return failed;
  }

  /**
   * Removes files no row refers to and not modified for `minAgeMs` (a younger file may belong to
   * another process between writing it and committing its row). Returns how many were removed.
   */
  sweepOrphans(referenced: Set<string>, minAgeMs: number): number {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return 0;
    }
    const cutoff = Date.now() - minAgeMs;
    let removed = 0;
    for (const name of names) {
      if (referenced.has(name)) continue;
      const file = path.join(this.dir, name);
      try {
        const stat = fs.lstatSync(file);
        if (stat.mtimeMs > cutoff) continue;
        fs.rmSync(file, { force: true, recursive: stat.isDirectory() });
        removed++;
      } catch {
        // Gone already, or not ours to remove now: try again next sweep.
      }
    }
    return removed;
  }
}

function writeNew(file: string, value: Uint8Array): void {
  fs.writeFileSync(file, value, { flag: "wx" });
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** Removes what a failed write left (a file full up to ENOSPC, say), unless the name was someone else's. */
function discardPartial(file: string, error: unknown): unknown {
  if (errorCode(error) !== "EEXIST") {
    try {
      fs.rmSync(file, { force: true });
    } catch {
      // Left for the orphan sweep.
    }
  }
  return error;
}
