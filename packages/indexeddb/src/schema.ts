import { type DBSchema, type IDBPDatabase, type IDBPTransaction, wrap } from "idb";

/**
 * The database layout. Payloads and bookkeeping live in separate stores so that eviction walks
 * only small index records, and a hit reads exactly one record.
 *
 * Upgrade path: bump DB_VERSION and add an `if (oldVersion < N)` step to `upgrade` below; never
 * edit an earlier step. A tab still running older code is asked to close its connection
 * (`blocking`), so the upgrade does not wait on it; a database newer than this code fails to open
 * with a VersionError, which the tier reports as TIER_UNAVAILABLE (reads then go upstream).
 */
export const DB_VERSION = 2;

/**
 * A payload and its absolute expiry (ms since the epoch), kept together so a hit is one read.
 * A payload longer than PIECE_BYTES (and at most MAX_SPLIT_BYTES) is split: `v` is its first piece, `n` the number of pieces, and
 * pieces 1…n-1 are in the "pieces" store under [key, i]. Chromium stores a value whose serialized
 * form exceeds 64 KiB as a separate blob file, which reads about twice as slowly as inline values.
 */
export interface ValueRecord {
  v: Uint8Array;
  x?: number;
  n?: number;
}

/** Largest piece of a payload stored in one record: its serialized form stays under Chromium's 64 KiB blob threshold. */
export const PIECE_BYTES = 60 * 1024;

/**
 * Payloads up to this size are split; larger ones stay one record (a blob file in Chromium, whose
 * read cost is spread over its size). Inline records also free their quota only when the database
 * compacts, while a blob file is deleted with its entry: a small quota is better served by blobs.
 */
export const MAX_SPLIT_BYTES = 4 * PIECE_BYTES;

/** Every piece after the first of `key`'s payload. */
export function laterPieces(key: string): IDBKeyRange {
  return IDBKeyRange.bound([key, 1], [key, Number.POSITIVE_INFINITY]);
}

/** Bookkeeping for one key: its accounted size, last access time and expiry. */
export interface IndexRecord {
  k: string;
  s: number;
  a: number;
  x?: number;
}

/** Origin-wide totals, updated in the same transaction as every write. */
export interface Totals {
  bytes: number;
  entries: number;
}

export interface CacheSchema extends DBSchema {
  values: { key: string; value: ValueRecord };
  index: { key: string; value: IndexRecord; indexes: { access: number; expiry: number } };
  meta: { key: string; value: Totals };
  pieces: { key: [string, number]; value: Uint8Array };
}

export type CacheDatabase = IDBPDatabase<CacheSchema>;

export const TOTALS_KEY = "totals";

/**
 * Opens (creating or upgrading) the database with `factory`: the page's `indexedDB`, or a Storage
 * Bucket's. `onLost` runs when this connection should be dropped: another tab upgrades the schema
 * (versionchange) or the browser closed it.
 */
export async function openDatabase(factory: IDBFactory, name: string, onLost: () => void): Promise<CacheDatabase> {
  const request = factory.open(name, DB_VERSION);
  request.onupgradeneeded = (event) => {
    const db = wrap(request.result) as unknown as CacheDatabase;
    upgrade(db, event.oldVersion, wrap(request.transaction!) as unknown as IDBPTransaction<CacheSchema, never, "versionchange">);
  };
  const db = (await wrap(request)) as unknown as CacheDatabase;
  db.addEventListener("versionchange", onLost);
  db.addEventListener("close", onLost);
  return db;
}

function upgrade(db: CacheDatabase, oldVersion: number, _tx: IDBPTransaction<CacheSchema, never, "versionchange">): void {
  if (oldVersion < 1) {
    db.createObjectStore("values");
    const index = db.createObjectStore("index", { keyPath: "k" });
    index.createIndex("access", "a");
    // Records without an expiry have no "x" and stay out of this index.
    index.createIndex("expiry", "x");
    db.createObjectStore("meta");
  }
  if (oldVersion < 2) {
    // Pieces of payloads over PIECE_BYTES. Version 1 records (one piece, no `n`) read unchanged.
    db.createObjectStore("pieces");
  }
  // Version 3 goes here as `if (oldVersion < 3) { … }`, migrating records through `_tx`.
}
