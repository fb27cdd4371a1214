import { ZarrsCacheError, isZarrsCacheError } from "@zarrs-cache/core";

function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/** SQLite found the database damaged (or not a database at all). */
export function isCorruption(error: unknown): boolean {
  const code = sqliteCode(error);
  return code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB";
}

/** The database file was deleted or renamed while open: this connection can no longer write. */
export function isMoved(error: unknown): boolean {
  return sqliteCode(error) === "SQLITE_READONLY_DBMOVED";
}

/** Another connection held the lock for longer than the busy timeout. */
export function isBusy(error: unknown): boolean {
  return sqliteCode(error).startsWith("SQLITE_BUSY");
}

/** Wraps anything thrown by SQLite or the file system as an IO_ERROR carrying the cause. */
export function ioError(what: string, error: unknown): ZarrsCacheError {
  if (isZarrsCacheError(error)) return error;
  const code = sqliteCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new ZarrsCacheError("IO_ERROR", `${what} failed: ${detail}${code ? ` (${code})` : ""}`, { cause: error });
}
