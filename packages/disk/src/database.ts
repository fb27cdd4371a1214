import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ZarrsCacheError } from "@zarrs-cache/core";
import { BLOB_DIR } from "./blob-store.js";
import { isCorruption } from "./sqlite-errors.js";

export type Db = Database.Database;

export const DB_FILE = "zarrs-cache.sqlite";
/** A small SQLite file used only as a cross-process mutex while the database is rebuilt or started over. */
const LOCK_FILE = "zarrs-cache.lock";
/**
 * 2: totals carry the shared bound and the full-disk limit; openers; the access index covers sizes.
 * 3: tombstones of deleted keys and prefixes (conditional fills; created by SCHEMA from 2).
 * 4: holds (fills refused while a lower tier may hold an older value), leases (cross-process
 *    single-flight) and the change log (coherence); created by SCHEMA from 3.
 */
const SCHEMA_VERSION = 4;
/** Small pages waste little space on large values (≤ 4 KiB each); reads measured as fast as 64 KiB pages. */
const PAGE_SIZE = 4096;

/** The totals change in the same transaction as the rows, whichever process writes: exact by construction. */
export const TRIGGERS = [
  {
    name: "entries_insert",
    sql:
      "CREATE TRIGGER entries_insert AFTER INSERT ON entries BEGIN " +
      "UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 0; END",
  },
  {
    name: "entries_delete",
    sql:
      "CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN " +
      "UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 0; END",
  },
  {
    name: "entries_resize",
    sql:
      "CREATE TRIGGER entries_resize AFTER UPDATE OF size ON entries BEGIN " +
      "UPDATE totals SET bytes = bytes - OLD.size + NEW.size WHERE id = 0; END",
  },
];

/** From schema 1: the bound columns, the openers table (in SCHEMA) and the covering access index. */
const MIGRATE_FROM_1 = `
ALTER TABLE totals ADD COLUMN bound INTEGER NOT NULL DEFAULT 0;
ALTER TABLE totals ADD COLUMN full_limit INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS entries_by_access;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY,
  size INTEGER NOT NULL,
  checksum INTEGER NOT NULL,
  expires_at INTEGER,
  last_access INTEGER NOT NULL,
  -- Id of the file holding a large value (value is then empty); NULL when the value is inline.
  blob TEXT,
  -- Key and value last: reading the small columns never walks a large value's overflow pages.
  key BLOB NOT NULL UNIQUE,
  value BLOB NOT NULL
);
-- Covers size too: the totals are recounted from this small index, not the table.
CREATE INDEX IF NOT EXISTS entries_by_access_size ON entries(last_access, size);
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries(expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS totals (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  entries INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  -- The smallest maxBytes among the processes using the directory (see openers); 0: none known.
  bound INTEGER NOT NULL DEFAULT 0,
  -- Lowered when the file system ran out of space, raised back as space returns; 0: no such limit.
  full_limit INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO totals (id, entries, bytes) VALUES (0, 0, 0);
-- Each process's maxBytes, with a lease it renews while open (a crashed process's row expires).
CREATE TABLE IF NOT EXISTS openers (
  id TEXT PRIMARY KEY,
  max_bytes INTEGER NOT NULL,
  seen_at INTEGER NOT NULL
);
-- What deletes, prefix deletes and clears leave for a while (see tombstones in disk-tier.ts): at = Date.now().
CREATE TABLE IF NOT EXISTS tombstones (key BLOB PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_by_age ON tombstones(at);
CREATE TABLE IF NOT EXISTS prefix_tombstones (prefix BLOB PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
-- Holds (see hold() in disk-tier.ts): fills of a key (is_prefix 0) or prefix (1) refused until "until" (ms), one row per holder.
CREATE TABLE IF NOT EXISTS holds (
  is_prefix INTEGER NOT NULL, scope BLOB NOT NULL, holder TEXT NOT NULL, until INTEGER NOT NULL,
  PRIMARY KEY (is_prefix, scope, holder)
) WITHOUT ROWID;
-- Who loads a key now (lease.ts), and the writes, deletes and clears other processes follow (change-feed.ts).
CREATE TABLE IF NOT EXISTS leases (key BLOB PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, kind INTEGER NOT NULL, key BLOB NOT NULL, at INTEGER NOT NULL);
${TRIGGERS.map((t) => t.sql.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS")).join(";\n")};
`;

export interface ConnectSettings {
  busyTimeout: number;
  /** WAL size that triggers a checkpoint, and the size the WAL is truncated back to. */
  walBytes: number;
}

export interface Connection {
  db: Db;
  file: string;
  /** Identity of the file opened, to notice it being deleted or replaced behind our back. */
  ino: number;
  dev: number;
  /** True when a damaged database was deleted and created anew. */
  rebuilt: boolean;
}

/** Creates `dir` if needed and checks it is a directory; INVALID_CONFIG naming it otherwise. */
export function ensureDirectory(dir: string): void {
  let stats: fs.Stats | undefined;
  try {
    stats = fs.statSync(dir, { throwIfNoEntry: false });
    if (stats === undefined) fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw badDir(dir, `cannot be created (${(error as Error).message})`, error);
  }
  if (stats !== undefined && !stats.isDirectory()) throw badDir(dir, "exists but is not a directory");
}

export function badDir(dir: string, problem: string, cause?: unknown): ZarrsCacheError {
  return new ZarrsCacheError(
    "INVALID_CONFIG",
    `disk(): cache directory "${path.resolve(dir)}" ${problem}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Opens (creating if needed) the cache database in `dir`. A file that SQLite reports as damaged
 * or not a database is deleted and created anew under a cross-process lock: it is only a cache.
 */
export function connect(dir: string, settings: ConnectSettings): Connection {
  const file = path.join(dir, DB_FILE);
  prepareLock(dir);
  if (!fs.existsSync(file) && fs.existsSync(`${file}-wal`)) {
    // The database was deleted but its WAL was left behind: replaying it into a new file would
    // resurrect a fragment of the old database.
    return rebuild(dir, file, settings);
  }
  try {
    return open(file, settings);
  } catch (error) {
    if (!isCorruption(error)) throw error;
    return rebuild(dir, file, settings);
  }
}

/**
 * Creates the lock file with its first page written, while there is room: taking the lock on an empty
 * file writes that page, which a full file system refuses, and a full file system is when the
 * directory must be started over.
 */
function prepareLock(dir: string): void {
  const file = path.join(dir, LOCK_FILE);
  if ((fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0) > 0) return;
  const lock = new Database(file);
  try {
    lock.pragma("user_version = 1");
  } finally {
    lock.close();
  }
}

/** Why a database is being recovered: each mode deletes it only when that is the cure. */
export type Recovery =
  /** SQLite reported damage once: rebuild only if quick_check fails. */
  | { mode: "check" }
  /**
   * SQLite reported damage again on a file that passed its check (index damage, which quick_check
   * does not see): rebuild, unless the file is no longer the one that failed (another process rebuilt it).
   */
  | { mode: "persistent"; ino: number; dev: number }
  /** Start the directory over whatever its state (a file system too full for any write). */
  | { mode: "force" };

/**
 * Recovers the database at `dir` under the cross-process rebuild lock and returns a connection to
 * a healthy database: the same file when it passed, a new empty one when it was deleted and created anew.
 */
export function recover(dir: string, settings: ConnectSettings, recovery: Recovery): Connection {
  const file = path.join(dir, DB_FILE);
  // On a full file system the value files go first: the lock file and the new database need room.
  if (recovery.mode === "force") removeBlobs(dir);
  return rebuild(dir, file, settings, recovery);
}

function removeBlobs(dir: string): void {
  fs.rmSync(path.join(dir, BLOB_DIR), { recursive: true, force: true });
}

function rebuild(dir: string, file: string, settings: ConnectSettings, recovery: Recovery = { mode: "check" }): Connection {
  const lock = new Database(path.join(dir, LOCK_FILE), { timeout: Math.max(settings.busyTimeout, 10_000) });
  try {
    lock.exec("BEGIN EXCLUSIVE");
    try {
      // Another process may have rebuilt it while we waited for the lock.
      const healthy = recovery.mode === "force" ? undefined : tryOpenHealthy(file, settings, recovery);
      if (healthy) return healthy;
      for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(file + suffix, { force: true });
      // The files of large values belonged to the old database's rows.
      removeBlobs(dir);
      const fresh = open(file, settings);
      // The old file's tombstones went with it: any fill whose load began before now may be older than a delete.
      fresh.db.prepare("INSERT OR REPLACE INTO prefix_tombstones (prefix, at) VALUES (?, ?)").run(Buffer.alloc(0), Date.now());
      return { ...fresh, rebuilt: true };
    } finally {
      lock.exec("COMMIT");
    }
  } finally {
    lock.close();
  }
}

function tryOpenHealthy(file: string, settings: ConnectSettings, recovery: Recovery): Connection | undefined {
  const stats = fs.statSync(file, { throwIfNoEntry: false });
  if (stats === undefined) return undefined;
  const sameFile = recovery.mode === "persistent" && stats.ino === recovery.ino && stats.dev === recovery.dev;
  let connection: Connection | undefined;
  try {
    connection = open(file, settings);
    // The file that failed twice is rebuilt even if quick_check passes (it does not compare indexes with rows).
    if (!sameFile && connection.db.pragma("quick_check", { simple: true }) === "ok") return connection;
  } catch (error) {
    if (!isCorruption(error)) {
      connection?.db.close();
      throw error;
    }
  }
  connection?.db.close();
  return undefined;
}

function open(file: string, settings: ConnectSettings): Connection {
  const db = new Database(file, { timeout: settings.busyTimeout });
  try {
    configure(db, settings);
    const stats = fs.statSync(file);
    return { db, file, ino: stats.ino, dev: stats.dev, rebuilt: false };
  } catch (error) {
    db.close();
    throw error;
  }
}

function dropAllTables(db: Db): void {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
  for (const { name } of tables) db.exec(`DROP TABLE "${name.replaceAll('"', '""')}"`);
}

function configure(db: Db, settings: ConnectSettings): void {
  // page_size and auto_vacuum only take effect on a new, empty database; harmless otherwise.
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma("auto_vacuum = INCREMENTAL");
  const mode = db.pragma("journal_mode = WAL", { simple: true });
  if (mode !== "wal") throw new Error(`SQLite could not switch to WAL mode (got ${String(mode)})`);
  // In WAL mode NORMAL never corrupts the database, even on power loss; it fsyncs only at checkpoints.
  db.pragma("synchronous = NORMAL");
  db.pragma("mmap_size = 2147418112");
  applyWalBytes(db, settings.walBytes);
  if (schemaVersion(db) !== SCHEMA_VERSION) {
    db.transaction(() => {
      // Read again under the write lock: another process may be creating the same new database.
      const version = schemaVersion(db);
      if (version === SCHEMA_VERSION) return;
      // Version 0 with tables in it: a database from before schema versioning, or not ours.
      // It is only a cache: start over (value files it named are swept as orphans).
      if (version === 0) dropAllTables(db);
      if (version === 1) db.exec(MIGRATE_FROM_1);
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  } else if (!schemaComplete(db)) {
    // A table or index dropped behind our back (the statements could not even be prepared): recreate it.
    db.transaction(() => db.exec(SCHEMA)).immediate();
  }
  db.prepare("SELECT entries, bytes, bound, full_limit FROM totals WHERE id = 0").get();
}

const SCHEMA_OBJECTS = [
  ...["entries", "totals", "openers", "entries_by_access_size", "entries_by_expiry"],
  ...["tombstones", "tombstones_by_age", "prefix_tombstones"],
  "holds",
  ...["leases", "changes"],
];

function schemaComplete(db: Db): boolean {
  const placeholders = SCHEMA_OBJECTS.map(() => "?").join(", ");
  const found = db
    .prepare(`SELECT count(*) FROM sqlite_master WHERE name IN (${placeholders})`)
    .pluck()
    .get(...SCHEMA_OBJECTS);
  return found === SCHEMA_OBJECTS.length;
}

/** The WAL size that triggers a checkpoint, and that the WAL is cut back to: a quarter of the bound in force, 256 KiB to 4 MiB. */
export function walBytesFor(limit: number): number {
  return Math.min(4 * 1024 * 1024, Math.max(256 * 1024, Math.floor(limit / 4)));
}

export function applyWalBytes(db: Db, walBytes: number): void {
  db.pragma(`wal_autocheckpoint = ${Math.max(64, Math.floor(walBytes / PAGE_SIZE))}`);
  db.pragma(`journal_size_limit = ${walBytes}`);
}

function schemaVersion(db: Db): number {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `disk(): "${db.name}" was written by a newer @zarrs-cache/disk (schema ${version}, this one reads ${SCHEMA_VERSION}); use another dir or delete it`,
    );
  }
  return version;
}

/**
 * Recreates the totals triggers if one is missing or altered (checked at each open): without them
 * the totals stop following the rows. Returns true when something was repaired.
 */
export function repairTriggers(db: Db): boolean {
  const rows = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").raw().all() as [string, string][];
  const stored = new Map(rows);
  let repaired = false;
  for (const trigger of TRIGGERS) {
    if (stored.get(trigger.name) === trigger.sql) continue;
    db.exec(`DROP TRIGGER IF EXISTS ${trigger.name}`);
    db.exec(trigger.sql);
    repaired = true;
  }
  return repaired;
}
