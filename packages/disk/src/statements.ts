import type { Statement } from "better-sqlite3";
import type { Db } from "./database.js";

/** A row as `read` returns it. `blob` is the file id of a large value (then `value` is empty). */
export type Row = [
  id: number,
  value: Buffer,
  checksum: number,
  expiresAt: number | null,
  lastAccess: number,
  size: number,
  blob: string | null,
];

/** Every statement the tier runs, prepared once per connection. Raw statements return arrays. */
export interface Statements {
  read: Statement<[Buffer]>;
  /** [expires_at] of a key. */
  peekExpiry: Statement<[Buffer]>;
  /** [blob] of a key, to remove its file once a new value replaced it. */
  blobOf: Statement<[Buffer]>;
  upsert: Statement<[Buffer, Uint8Array, number, number, number | null, number, string | null]>;
  /** Deletes a key; returns [expires_at, blob]. */
  deleteKey: Statement<[Buffer]>;
  /** Deletes a row only if it still holds the checksum that failed (another process may have rewritten it); returns [blob]. */
  deleteCorrupt: Statement<[number, number]>;
  /** A page of live keys in key order: from a lower bound (>=, or > a cursor), below an optional upper bound. */
  keysAtLeast: Statement<[Buffer, number, number]>;
  keysAtLeastBelow: Statement<[Buffer, Buffer, number, number]>;
  keysAfter: Statement<[Buffer, number, number]>;
  keysAfterBelow: Statement<[Buffer, Buffer, number, number]>;
  countLiveRange: Statement<[Buffer, Buffer, number]>;
  countLiveFrom: Statement<[Buffer, number]>;
  blobsInRange: Statement<[Buffer, Buffer]>;
  blobsFrom: Statement<[Buffer]>;
  deleteRange: Statement<[Buffer, Buffer]>;
  deleteFrom: Statement<[Buffer]>;
  allBlobs: Statement<[]>;
  deleteAll: Statement<[]>;
  touch: Statement<[number, Buffer, number]>;
  /** [entries, bytes, bound, full_limit] of the whole directory (see the schema). */
  totals: Statement<[]>;
  /** [entries, bytes] counted from the rows (a scan of the small access index). */
  countRows: Statement<[]>;
  /** Sets the totals to what the rows add up to (creating the row if it was deleted). */
  ensureTotalsRow: Statement<[]>;
  recountTotals: Statement<[]>;
  /** Deletes rows whose size no entry can have (smaller than the overhead, larger than any value); returns [blob]. */
  deleteBadSizes: Statement<[number, number]>;
  setFullLimit: Statement<[number]>;
  /** Registers or renews this process's maxBytes and lease: (id, max_bytes, now). */
  registerOpener: Statement<[string, number, number]>;
  removeOpener: Statement<[string]>;
  /** Forgets openers whose lease ran out (a crashed process). */
  pruneOpeners: Statement<[number]>;
  /** Sets the shared bound to the smallest maxBytes of the openers. */
  updateBound: Statement<[]>;
  /** Least recently used rows other than the given key: [id, size, blob, key]. */
  lru: Statement<[Buffer, number]>;
  /** Every row, least recently used first: [id, size, blob, key]. */
  lruAll: Statement<[]>;
  /** Deletes a row by id; returns [blob]. */
  deleteId: Statement<[number]>;
  /** [expires_at, blob] of a key: a fill checks for a live entry and learns the file it replaces. */
  entryState: Statement<[Buffer]>;
  /** The newest tombstone covering a key (its own, or one of a prefix of it), or null. */
  tombstoneAt: Statement<[Buffer, Buffer]>;
  recordTombstone: Statement<[Buffer, number]>;
  recordPrefixTombstone: Statement<[Buffer, number]>;
  /** Key tombstones in a key range (superseded by a prefix tombstone). */
  deleteTombstonesRange: Statement<[Buffer, Buffer]>;
  deleteTombstonesFrom: Statement<[Buffer]>;
  /** Tombstones older than a time. */
  pruneTombstones: Statement<[number]>;
  prunePrefixTombstones: Statement<[number]>;
  /** 1 when some tombstone is older than a time. */
  anyOldTombstone: Statement<[number, number]>;
  /** The latest end of a hold covering a key (of the key itself, or of a prefix of it), or null. */
  holdUntil: Statement<[Buffer, Buffer]>;
  /** Holds or extends a hold: (is_prefix, scope, holder, until). */
  recordHold: Statement<[number, Buffer, string, number]>;
  /** Ends a holder's hold now: (now, is_prefix, scope, holder). */
  releaseHold: Statement<[number, number, Buffer, string]>;
  /** Holds that ended before a time. */
  pruneHolds: Statement<[number]>;
  /** 1 when some row has expired. */
  anyExpired: Statement<[number]>;
  /** Deletes up to n expired rows; returns [blob, key] of each. */
  deleteExpired: Statement<[number, number]>;
  /** Changes when another connection commits (SQLite's PRAGMA data_version). */
  dataVersion: Statement<[]>;
  /** Appends to the change log: (origin, kind, key or prefix, at). */
  logChange: Statement<[string, number, Buffer, number]>;
  /** Up to n log rows after a sequence number: [seq, origin, kind, key]. */
  changesSince: Statement<[number, number]>;
  /** The last sequence number the log ever gave (0 before the first). */
  lastChange: Statement<[]>;
  /** Drops the log rows before the first one written at or after a time. */
  pruneChanges: Statement<[number]>;
  /** `at` of the oldest log row, or undefined. */
  oldestChange: Statement<[]>;
  /** How many sequence numbers the log spans (about its rows). */
  changeSpan: Statement<[]>;
  /** Keeps only the newest n sequence numbers of the log. */
  trimChanges: Statement<[number]>;
  /** [owner, pid, host, expires_at] of a key's lease. */
  leaseOf: Statement<[Buffer]>;
  takeLease: Statement<[Buffer, string, number, string, number]>;
  /** Drops a lease if this owner holds it; returns [key]. */
  dropLease: Statement<[Buffer, string]>;
  /** Drops every lease of one owner; returns [key] of each. */
  dropOwnLeases: Statement<[string]>;
  pruneLeases: Statement<[number]>;
}

export function prepareStatements(db: Db): Statements {
  const live = "(expires_at IS NULL OR expires_at > ?)";
  return {
    read: db.prepare("SELECT id, value, checksum, expires_at, last_access, size, blob FROM entries WHERE key = ?").raw(),
    peekExpiry: db.prepare("SELECT expires_at FROM entries WHERE key = ?").raw(),
    blobOf: db.prepare("SELECT blob FROM entries WHERE key = ?").pluck(),
    upsert: db.prepare(
      `INSERT INTO entries (key, value, size, checksum, expires_at, last_access, blob) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, size = excluded.size, checksum = excluded.checksum,
         expires_at = excluded.expires_at, last_access = excluded.last_access, blob = excluded.blob`,
    ),
    deleteKey: db.prepare("DELETE FROM entries WHERE key = ? RETURNING expires_at, blob").raw(),
    deleteCorrupt: db.prepare("DELETE FROM entries WHERE id = ? AND checksum = ? RETURNING blob").pluck(),
    keysAtLeast: db.prepare(`SELECT key FROM entries WHERE key >= ? AND ${live} ORDER BY key LIMIT ?`).pluck(),
    keysAtLeastBelow: db.prepare(`SELECT key FROM entries WHERE key >= ? AND key < ? AND ${live} ORDER BY key LIMIT ?`).pluck(),
    keysAfter: db.prepare(`SELECT key FROM entries WHERE key > ? AND ${live} ORDER BY key LIMIT ?`).pluck(),
    keysAfterBelow: db.prepare(`SELECT key FROM entries WHERE key > ? AND key < ? AND ${live} ORDER BY key LIMIT ?`).pluck(),
    countLiveRange: db.prepare(`SELECT count(*) FROM entries WHERE key >= ? AND key < ? AND ${live}`).pluck(),
    countLiveFrom: db.prepare(`SELECT count(*) FROM entries WHERE key >= ? AND ${live}`).pluck(),
    blobsInRange: db.prepare("SELECT blob FROM entries WHERE key >= ? AND key < ? AND blob IS NOT NULL").pluck(),
    blobsFrom: db.prepare("SELECT blob FROM entries WHERE key >= ? AND blob IS NOT NULL").pluck(),
    deleteRange: db.prepare("DELETE FROM entries WHERE key >= ? AND key < ?"),
    deleteFrom: db.prepare("DELETE FROM entries WHERE key >= ?"),
    allBlobs: db.prepare("SELECT blob FROM entries WHERE blob IS NOT NULL").pluck(),
    deleteAll: db.prepare("DELETE FROM entries"),
    touch: db.prepare("UPDATE entries SET last_access = ? WHERE key = ? AND last_access < ?"),
    totals: db.prepare("SELECT entries, bytes, bound, full_limit FROM totals WHERE id = 0").raw(),
    countRows: db.prepare("SELECT count(*), coalesce(sum(size), 0) FROM entries").raw(),
    ensureTotalsRow: db.prepare("INSERT OR IGNORE INTO totals (id, entries, bytes) VALUES (0, 0, 0)"),
    recountTotals: db.prepare(
      "UPDATE totals SET entries = (SELECT count(*) FROM entries), bytes = (SELECT coalesce(sum(size), 0) FROM entries) WHERE id = 0",
    ),
    deleteBadSizes: db
      .prepare(
        "DELETE FROM entries WHERE id IN " +
          "(SELECT id FROM entries INDEXED BY entries_by_access_size WHERE size < ? OR size > ?) RETURNING blob",
      )
      .pluck(),
    setFullLimit: db.prepare("UPDATE totals SET full_limit = ? WHERE id = 0"),
    registerOpener: db.prepare("INSERT OR REPLACE INTO openers (id, max_bytes, seen_at) VALUES (?, ?, ?)"),
    removeOpener: db.prepare("DELETE FROM openers WHERE id = ?"),
    pruneOpeners: db.prepare("DELETE FROM openers WHERE seen_at < ?"),
    updateBound: db.prepare("UPDATE totals SET bound = coalesce((SELECT min(max_bytes) FROM openers), 0) WHERE id = 0"),
    lru: db.prepare("SELECT id, size, blob, key FROM entries WHERE key <> ? ORDER BY last_access LIMIT ?").raw(),
    lruAll: db.prepare("SELECT id, size, blob, key FROM entries ORDER BY last_access").raw(),
    deleteId: db.prepare("DELETE FROM entries WHERE id = ? RETURNING blob").pluck(),
    entryState: db.prepare("SELECT expires_at, blob FROM entries WHERE key = ?").raw(),
    tombstoneAt: db
      .prepare(
        "SELECT max(at) FROM (SELECT at FROM tombstones WHERE key = ? " +
          "UNION ALL SELECT at FROM prefix_tombstones WHERE substr(?, 1, length(prefix)) = prefix)",
      )
      .pluck(),
    recordTombstone: db.prepare("INSERT INTO tombstones (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET at = max(at, excluded.at)"),
    recordPrefixTombstone: db.prepare(
      "INSERT INTO prefix_tombstones (prefix, at) VALUES (?, ?) ON CONFLICT (prefix) DO UPDATE SET at = max(at, excluded.at)",
    ),
    deleteTombstonesRange: db.prepare("DELETE FROM tombstones WHERE key >= ? AND key < ?"),
    deleteTombstonesFrom: db.prepare("DELETE FROM tombstones WHERE key >= ?"),
    pruneTombstones: db.prepare("DELETE FROM tombstones WHERE at < ?"),
    prunePrefixTombstones: db.prepare("DELETE FROM prefix_tombstones WHERE at < ?"),
    anyOldTombstone: db
      .prepare("SELECT 1 WHERE EXISTS (SELECT 1 FROM tombstones WHERE at < ?) OR EXISTS (SELECT 1 FROM prefix_tombstones WHERE at < ?)")
      .pluck(),
    holdUntil: db
      .prepare(
        "SELECT max(until) FROM holds WHERE (is_prefix = 0 AND scope = ?) " + "OR (is_prefix = 1 AND substr(?, 1, length(scope)) = scope)",
      )
      .pluck(),
    recordHold: db.prepare(
      "INSERT INTO holds (is_prefix, scope, holder, until) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (is_prefix, scope, holder) DO UPDATE SET until = max(until, excluded.until)",
    ),
    releaseHold: db.prepare("UPDATE holds SET until = min(until, ?) WHERE is_prefix = ? AND scope = ? AND holder = ?"),
    pruneHolds: db.prepare("DELETE FROM holds WHERE until < ?"),
    anyExpired: db.prepare("SELECT 1 FROM entries WHERE expires_at <= ? LIMIT 1").pluck(),
    deleteExpired: db.prepare("DELETE FROM entries WHERE expires_at <= ? RETURNING blob, key LIMIT ?").raw(),
    dataVersion: db.prepare("PRAGMA data_version").pluck(),
    logChange: db.prepare("INSERT INTO changes (origin, kind, key, at) VALUES (?, ?, ?, ?)"),
    changesSince: db.prepare("SELECT seq, origin, kind, key FROM changes WHERE seq > ? ORDER BY seq LIMIT ?").raw(),
    lastChange: db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)").pluck(),
    pruneChanges: db.prepare(
      "DELETE FROM changes WHERE seq < coalesce((SELECT seq FROM changes WHERE at >= ? ORDER BY seq LIMIT 1), (SELECT coalesce(max(seq), 0) + 1 FROM changes))",
    ),
    oldestChange: db.prepare("SELECT at FROM changes ORDER BY seq LIMIT 1").pluck(),
    changeSpan: db.prepare("SELECT coalesce(max(seq) - min(seq), 0) FROM changes").pluck(),
    trimChanges: db.prepare("DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?"),
    leaseOf: db.prepare("SELECT owner, pid, host, expires_at FROM leases WHERE key = ?").raw(),
    takeLease: db.prepare("INSERT OR REPLACE INTO leases (key, owner, pid, host, expires_at) VALUES (?, ?, ?, ?, ?)"),
    dropLease: db.prepare("DELETE FROM leases WHERE key = ? AND owner = ? RETURNING key").pluck(),
    dropOwnLeases: db.prepare("DELETE FROM leases WHERE owner = ? RETURNING key").pluck(),
    pruneLeases: db.prepare("DELETE FROM leases WHERE expires_at < ?"),
  };
}
