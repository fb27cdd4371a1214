import {
  type CacheEntry,
  type CacheTier,
  type EvictionListener,
  EvictionListeners,
  type EvictionReason,
  Listeners,
  OpenState,
  type SetOptions,
  type TierInvalidation,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertPrefix,
  assertSetArguments,
  emptyStats,
  entryBytes,
  isZarrsCacheError,
} from "@zarrs-cache/core";
import { type IDBPTransaction, unwrap } from "idb";
import { TabChannel, type TabMessage } from "./channel.js";
import { type IndexedDbOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import {
  type CacheDatabase,
  type CacheSchema,
  type IndexRecord,
  MAX_SPLIT_BYTES,
  PIECE_BYTES,
  TOTALS_KEY,
  type Totals,
  type ValueRecord,
  laterPieces,
  openDatabase,
} from "./schema.js";

type WriteTx = IDBPTransaction<CacheSchema, ("values" | "pieces" | "index" | "meta")[], "readwrite">;
const TOUCH_RESOLUTION_MS = 60_000;
const MAX_TOUCHES_REMEMBERED = 100_000;
const READS_PER_TRANSACTION = 256;

/** Entries a write transaction dropped on its own, reported once it commits. */
type Evicted = [key: string, reason: EvictionReason][];

/**
 * A persistent CacheTier over IndexedDB. The byte bound holds for the whole origin: every write
 * reads the shared totals, evicts the least recently used entries and stores the new value in one
 * readwrite transaction, and IndexedDB serializes such transactions across tabs.
 */
export class IndexedDbTier implements CacheTier {
  readonly name = "indexeddb";
  private readonly options: ResolvedOptions;
  private readonly counters = emptyStats();
  private readonly channel: TabChannel;
  private db: Promise<CacheDatabase> | undefined;
  private totals: Totals = { bytes: 0, entries: 0 };
  /** A write or another tab has told the totals since the database opened (newer than the opening read). */
  private totalsKnown = false;
  /** Hits not yet written as access times: key → time of the hit. */
  private touches = new Map<string, number>();
  private touchTimer: ReturnType<typeof setTimeout> | undefined;
  /** When each recently read key last had its access time written. */
  private readonly touchesWritten = new Map<string, number>();
  private accessSeq = 0;
  /** The readonly transaction reads join while it is active (see `read`), and how many have. */
  private readTx: IDBTransaction | undefined;
  private readTxReads = 0;
  private readonly evictions = new EvictionListeners();
  private readonly invalidations = new Listeners<[message: TierInvalidation]>();
  private readonly state = new OpenState("the indexedDb tier");

  constructor(options: IndexedDbOptions) {
    this.options = resolveOptions(options);
    this.channel = new TabChannel(this.options.dbName, this.options.broadcast, (message) => this.onTabMessage(message));
  }

  /** Called by `createCache().build()`: fails early where this browser has no IndexedDB at all. */
  open(): void {
    this.factory();
    // Start connecting now: the first read after a page load then does not wait for it.
    this.database().catch(() => {});
  }

  private factory(): IDBFactory {
    const factory = this.options.factory ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (factory === undefined) throw unavailable("this environment has no IndexedDB (globalThis.indexedDB is undefined)");
    return factory;
  }

  // ─── reads ─────────────────────────────────────────────────────────────────

  async get(key: string): Promise<CacheEntry | undefined> {
    this.assertOpen();
    assertKey(key);
    const db = unwrap(await this.database()) as IDBDatabase;
    return this.found(key, await this.read(db, key));
  }

  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    this.assertOpen();
    for (const key of keys) assertKey(key);
    const db = unwrap(await this.database()) as IDBDatabase;
    // One transaction for the whole batch (and any reads joining it): its reads are pipelined.
    const records = await Promise.all(keys.map((key) => this.read(db, key)));
    return records.map((record, i) => this.found(keys[i]!, record));
  }

  /**
   * Reads `key` in the current shared readonly transaction while it is still active, else in a
   * new one. A transaction stays active for the rest of the task that opened it and in the
   * callbacks of its requests (with their promise continuations), so the gets a page issues
   * together, and the reads a hit leads to at once (a shard's index, then its inner chunk), share
   * one transaction instead of paying one each. At most READS_PER_TRANSACTION reads join one, so a
   * steady stream of reads never holds off a write for long.
   */
  private read(db: IDBDatabase, key: string): Promise<ValueRecord | undefined> {
    const shared = this.readTx;
    if (shared !== undefined && shared.db === db && this.readTxReads < READS_PER_TRANSACTION) {
      try {
        const pending = readRecord(shared, key);
        this.readTxReads++;
        return pending;
      } catch {
        // Inactive or finished: start another below.
      }
    }
    const tx = db.transaction(["values", "pieces"], "readonly");
    this.readTx = tx;
    this.readTxReads = 1;
    const release = () => {
      if (this.readTx === tx) this.readTx = undefined;
    };
    tx.addEventListener("complete", release);
    tx.addEventListener("abort", release);
    return readRecord(tx, key);
  }

  private found(key: string, record: ValueRecord | undefined): CacheEntry | undefined {
    if (record === undefined) {
      this.counters.misses++;
      return undefined;
    }
    if (record.x !== undefined && record.x <= Date.now()) {
      this.counters.misses++;
      void this.dropExpired(key);
      return undefined;
    }
    this.counters.hits++;
    this.touch(key);
    return { value: record.v, expiresAt: record.x };
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    const record = await (await this.database()).get("index", key);
    return record !== undefined && (record.x === undefined || record.x > Date.now());
  }

  async *keys(prefix = ""): AsyncIterable<string> {
    this.assertOpen();
    const db = await this.database();
    const live: string[] = [];
    const now = Date.now();
    const tx = db.transaction("index", "readonly");
    for (let cursor = await tx.store.openCursor(IDBKeyRange.lowerBound(prefix)); cursor; cursor = await cursor.continue()) {
      if (!cursor.key.startsWith(prefix)) break;
      if (cursor.value.x === undefined || cursor.value.x > now) live.push(cursor.key);
    }
    await tx.done;
    yield* live;
  }

  // ─── writes ────────────────────────────────────────────────────────────────

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.assertOpen();
    assertSetArguments(key, value, options);
    const size = this.sizeOf(key, value);
    if (value.byteLength > this.options.maxValueBytes || size > this.options.maxBytes) {
      throw new ZarrsCacheError(
        "VALUE_TOO_LARGE",
        `indexedDb tier "${this.options.dbName}": a value of ${value.byteLength} bytes does not fit ` +
          `(maxBytes ${this.options.maxBytes}, maxValueBytes ${this.options.maxValueBytes})`,
      );
    }
    const ttl = options?.ttl ?? this.options.ttl;
    const pieces = splitIntoPieces(value);
    const record: ValueRecord = { v: pieces[0]! };
    if (ttl !== undefined) record.x = Date.now() + ttl;
    if (pieces.length > 1) record.n = pieces.length;
    const later = pieces.slice(1);
    try {
      await this.write((tx, totals, evicted) => this.put(tx, totals, evicted, key, record, later, size));
    } catch (error) {
      if (!isQuotaError(error)) throw error;
      // The browser's quota for the origin is smaller than maxBytes (or other data fills it):
      // make room by dropping the older half of this cache, then try once more.
      this.counters.quotaExceeded = (this.counters.quotaExceeded ?? 0) + 1;
      try {
        await this.write((tx, totals, evicted) => this.evictDownTo(tx, totals, evicted, Math.floor(totals.bytes / 2), key));
        await this.write((tx, totals, evicted) => this.put(tx, totals, evicted, key, record, later, size));
      } catch (retryError) {
        if (!isQuotaError(retryError)) throw retryError;
        throw new ZarrsCacheError(
          "IO_ERROR",
          `indexedDb tier "${this.options.dbName}": the browser's storage quota is full even after evicting`,
          {
            cause: retryError,
          },
        );
      }
    }
    this.counters.sets++;
    if (!options?.fill) this.broadcast({ kind: "keys", keys: [key] });
  }

  private async put(
    tx: WriteTx,
    totals: Totals,
    evicted: Evicted,
    key: string,
    record: ValueRecord,
    later: Uint8Array[],
    size: number,
  ): Promise<void> {
    const index = tx.objectStore("index");
    const old = await index.get(key);
    if (old !== undefined) {
      totals.bytes -= old.s;
      totals.entries--;
      await tx.objectStore("pieces").delete(laterPieces(key));
    }
    if (totals.bytes + size > this.options.maxBytes) await this.evictDownTo(tx, totals, evicted, this.options.maxBytes - size, key);
    const entry: IndexRecord = { k: key, s: size, a: this.now() };
    if (record.x !== undefined) entry.x = record.x;
    const pieces = tx.objectStore("pieces");
    await Promise.all([
      tx.objectStore("values").put(record, key),
      index.put(entry),
      ...later.map((piece, i) => pieces.put(piece, [key, i + 1])),
    ]);
    totals.bytes += size;
    totals.entries++;
  }

  /** Drops expired entries, then the least recently used, until `totals.bytes <= target` (never `keep`). */
  private async evictDownTo(tx: WriteTx, totals: Totals, evicted: Evicted, target: number, keep: string): Promise<void> {
    const index = tx.objectStore("index");
    const expired = IDBKeyRange.upperBound(Date.now());
    for (const [name, range, reason] of [
      ["expiry", expired, "expire"],
      ["access", undefined, "evict"],
    ] as const) {
      for (let cursor = await index.index(name).openCursor(range); cursor && totals.bytes > target; cursor = await cursor.continue()) {
        const { k, s } = cursor.value;
        if (k === keep) continue;
        await Promise.all([cursor.delete(), deletePayload(tx, k)]);
        totals.bytes -= s;
        totals.entries--;
        evicted.push([k, reason]);
      }
    }
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    let removed = false;
    await this.write(async (tx, totals) => {
      removed = await this.remove(tx, totals, key);
    });
    if (removed) this.counters.deletes++;
    this.broadcast({ kind: "keys", keys: [key] });
    return removed;
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    assertPrefix(prefix);
    let removed = 0;
    await this.write(async (tx, totals) => {
      for (
        let cursor = await tx.objectStore("index").openCursor(IDBKeyRange.lowerBound(prefix));
        cursor;
        cursor = await cursor.continue()
      ) {
        if (!cursor.key.startsWith(prefix)) break;
        const live = cursor.value.x === undefined || cursor.value.x > Date.now();
        await Promise.all([cursor.delete(), deletePayload(tx, cursor.key)]);
        totals.bytes -= cursor.value.s;
        totals.entries--;
        if (live) removed++;
      }
    });
    this.counters.deletes += removed;
    this.broadcast({ kind: "prefix", prefix });
    return removed;
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.touches.clear();
    await this.write(async (tx, totals) => {
      await Promise.all([tx.objectStore("values").clear(), tx.objectStore("pieces").clear(), tx.objectStore("index").clear()]);
      totals.bytes = 0;
      totals.entries = 0;
    });
    this.broadcast({ kind: "all" });
  }

  private async remove(tx: WriteTx, totals: Totals, key: string, onlyIfExpired = false): Promise<boolean> {
    const index = tx.objectStore("index");
    const old = await index.get(key);
    if (old === undefined) return false;
    if (onlyIfExpired && (old.x === undefined || old.x > Date.now())) return false;
    await Promise.all([index.delete(key), deletePayload(tx, key)]);
    totals.bytes -= old.s;
    totals.entries--;
    return old.x === undefined || old.x > Date.now();
  }

  private async dropExpired(key: string): Promise<void> {
    try {
      let dropped = false;
      await this.write(async (tx, totals) => {
        dropped = (await tx.objectStore("index").get(key)) !== undefined;
        await this.remove(tx, totals, key, true);
      });
      if (!dropped) return;
      this.counters.expired = (this.counters.expired ?? 0) + 1;
      this.evictions.emit(key, "expire");
    } catch {
      this.counters.errors++;
    }
  }

  /**
   * One readwrite transaction over every store: applies the batched access times, runs `body`
   * with the origin-wide totals, and stores the new totals, all or nothing.
   */
  private async write(body: (tx: WriteTx, totals: Totals, evicted: Evicted) => Promise<void>): Promise<void> {
    const db = await this.database();
    const tx = db.transaction(["values", "pieces", "index", "meta"], "readwrite");
    const touches = this.touches;
    this.touches = new Map();
    const evicted: Evicted = [];
    let totals: Totals | undefined;
    const work = (async () => {
      await this.applyTouches(tx, touches);
      totals = { ...((await tx.objectStore("meta").get(TOTALS_KEY)) ?? { bytes: 0, entries: 0 }) };
      await body(tx, totals, evicted);
      await tx.objectStore("meta").put(totals, TOTALS_KEY);
    })();
    // The transaction's own outcome is authoritative (a quota error surfaces there).
    work.catch(() => {
      try {
        tx.abort();
      } catch {
        // already finished
      }
    });
    try {
      await Promise.all([work, tx.done]);
    } catch (error) {
      for (const [key, at] of touches) if (!this.touches.has(key)) this.touches.set(key, at);
      if (isQuotaError(error) || isZarrsCacheError(error)) throw error;
      this.counters.errors++;
      throw new ZarrsCacheError(
        "IO_ERROR",
        `indexedDb tier "${this.options.dbName}": a write failed: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
    this.totals = totals!;
    this.totalsKnown = true;
    this.channel.post({ type: "totals", totals: this.totals });
    for (const [key, reason] of evicted) {
      if (reason === "evict") this.counters.evictions++;
      else this.counters.expired = (this.counters.expired ?? 0) + 1;
      this.evictions.emit(key, reason);
    }
  }

  // ─── access order ──────────────────────────────────────────────────────────

  /** A monotonic access time: ms since the epoch plus a fraction that orders hits within one ms. */
  private now(): number {
    this.accessSeq = (this.accessSeq + 1) % 1000;
    return Date.now() + this.accessSeq / 1000;
  }

  /**
   * Hits only note the key; access times are written later in one transaction (reads stay
   * read-only). A key whose access was written less than TOUCH_RESOLUTION_MS ago is not noted
   * again: access order is kept to the minute, and a hot key costs no writes.
   */
  private touch(key: string): void {
    const now = Date.now();
    const written = this.touchesWritten.get(key);
    if (written !== undefined && now - written < TOUCH_RESOLUTION_MS) return;
    this.touches.set(key, this.now());
    if (this.touchTimer === undefined) {
      this.touchTimer = setTimeout(() => {
        this.touchTimer = undefined;
        if (!this.state.closed) this.flushTouches().catch(() => {});
      }, this.options.touchDelay);
    }
  }

  /**
   * Writes batched access times in a transaction over the index store only: it never waits for,
   * or holds up, reads of the values store.
   */
  private async flushTouches(): Promise<void> {
    if (this.touches.size === 0) return;
    const db = await this.database();
    const touches = this.touches;
    this.touches = new Map();
    const tx = db.transaction("index", "readwrite") as unknown as WriteTx;
    try {
      await Promise.all([this.applyTouches(tx, touches), tx.done]);
    } catch {
      for (const [key, at] of touches) if (!this.touches.has(key)) this.touches.set(key, at);
    }
  }

  private async applyTouches(tx: WriteTx, touches: Map<string, number>): Promise<void> {
    if (touches.size === 0) return;
    if (this.touchesWritten.size > MAX_TOUCHES_REMEMBERED) this.touchesWritten.clear();
    for (const [key, at] of touches) this.touchesWritten.set(key, Math.floor(at));
    const index = tx.objectStore("index");
    await Promise.all(
      [...touches].map(async ([key, at]) => {
        const record = await index.get(key);
        if (record !== undefined && record.a < at) await index.put({ ...record, a: at });
      }),
    );
  }

  // ─── tabs ──────────────────────────────────────────────────────────────────

  private broadcast(message: TierInvalidation): void {
    this.channel.post({ type: "invalidate", message });
  }

  private onTabMessage(message: TabMessage): void {
    if (this.state.closed) return;
    if (message.type === "totals") {
      this.totals = message.totals;
      this.totalsKnown = true;
      return;
    }
    this.invalidations.emit(message.message);
  }

  /** Another tab wrote or invalidated: the tiers above this one (memory) must drop their copies. */
  onInvalidation(listener: (message: TierInvalidation) => void): () => void {
    return this.invalidations.add(listener);
  }

  onEviction(listener: EvictionListener): () => void {
    return this.evictions.add(listener);
  }

  // ─── lifecycle ─────────────────────────────────────────────────────────────

  /** Entries and bytes are the origin-wide totals as of this tab's last write or another tab's message. */
  stats(): TierStats {
    return { ...this.counters, entries: this.totals.entries, bytes: this.totals.bytes, maxBytes: this.options.maxBytes };
  }

  async close(): Promise<void> {
    if (this.state.closed) return;
    if (this.touchTimer !== undefined) clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    if (this.db !== undefined) await this.flushTouches().catch(() => {});
    this.state.markClosed();
    this.channel.close();
    const db = this.db;
    this.db = undefined;
    if (db !== undefined) (await db.catch(() => undefined))?.close();
  }

  private database(): Promise<CacheDatabase> {
    if (this.db === undefined) {
      const opening = this.openDatabase();
      this.db = opening;
      // A failed open is retried by the next operation (the user may unblock storage).
      opening.catch(() => {
        if (this.db === opening) this.db = undefined;
      });
    }
    return this.db;
  }

  private async openDatabase(): Promise<CacheDatabase> {
    const factory = this.factory();
    let db: CacheDatabase;
    this.totalsKnown = false;
    try {
      db = await openDatabase(factory, this.options.dbName, () => {
        // Another tab upgrades the schema (or the browser closed us): let go, reopen on next use.
        db?.close();
        if (this.db !== undefined) this.db = undefined;
      });
    } catch (error) {
      this.counters.errors++;
      throw unavailable(
        `cannot open database "${this.options.dbName}": ${(error as Error)?.name ?? ""} ${(error as Error)?.message ?? error}`,
        error,
      );
    }
    // The totals only feed stats(): reads need not wait for them (one round trip less on a page's first read).
    db.get("meta", TOTALS_KEY).then(
      (totals) => {
        if (totals !== undefined && !this.totalsKnown) this.totals = totals;
      },
      () => {},
    );
    return db;
  }

  private sizeOf(key: string, value: Uint8Array): number {
    return entryBytes(key, value, this.options.entryOverhead);
  }

  private assertOpen(): void {
    this.state.assertOpen();
  }
}

function unavailable(message: string, cause?: unknown): ZarrsCacheError {
  return new ZarrsCacheError("TIER_UNAVAILABLE", `indexedDb(): ${message}`, cause === undefined ? undefined : { cause });
}

function isQuotaError(error: unknown): boolean {
  return (error as Error | undefined)?.name === "QuotaExceededError";
}

/**
 * Splits a payload of up to MAX_SPLIT_BYTES into pieces of at most PIECE_BYTES, each on its own ArrayBuffer (structured
 * clone stores the whole buffer behind a view).
 */
function splitIntoPieces(value: Uint8Array): Uint8Array[] {
  const own = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && value.constructor === Uint8Array;
  if (value.byteLength <= PIECE_BYTES || value.byteLength > MAX_SPLIT_BYTES) return [own ? value : value.slice()];
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < value.byteLength; at += PIECE_BYTES) pieces.push(value.slice(at, at + PIECE_BYTES));
  return pieces;
}

function deletePayload(tx: WriteTx, key: string): Promise<unknown> {
  return Promise.all([tx.objectStore("values").delete(key), tx.objectStore("pieces").delete(laterPieces(key))]);
}

/**
 * Reads one payload in `tx`: its first record and, requested with it, the later pieces when it
 * was split. Pieces that do not add up (never written so) read as a miss. Throws
 * synchronously when `tx` no longer takes requests.
 */
function readRecord(tx: IDBTransaction, key: string): Promise<ValueRecord | undefined> {
  // Both requests go out at once (one round trip, not two in a row), before the promise exists:
  // an inactive transaction throws here, to the caller. An unsplit payload has no later pieces.
  const first = tx.objectStore("values").get(key);
  const rest = tx.objectStore("pieces").getAll(laterPieces(key));
  return new Promise((resolve, reject) => {
    const failed = (req: IDBRequest) => (event: Event) => {
      // Only this read fails: the transaction (shared with other reads) goes on.
      event.preventDefault();
      reject(new ZarrsCacheError("IO_ERROR", `indexedDb tier: reading "${key}" failed: ${req.error?.message}`, { cause: req.error }));
    };
    first.onerror = failed(first);
    rest.onerror = failed(rest);
    // Requests of one transaction succeed in the order they were made: `rest` answers last.
    rest.onsuccess = () => {
      const record = first.result as ValueRecord | undefined;
      if (record?.n === undefined) return resolve(record);
      const pieces = [record.v, ...(rest.result as Uint8Array[])];
      if (pieces.length !== record.n) return resolve(undefined);
      const joined = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.byteLength, 0));
      let at = 0;
      for (const piece of pieces) {
        joined.set(piece, at);
        at += piece.byteLength;
      }
      resolve(record.x === undefined ? { v: joined } : { v: joined, x: record.x });
    };
  });
}

/**
 * A persistent browser tier: `indexedDb({ name: "my-app", maxBytes: 512 * 1024 * 1024 })`.
 * Bounded by bytes across every tab of the origin; tells other tabs about writes.
 */
export function indexedDb(options: IndexedDbOptions): IndexedDbTier {
  return new IndexedDbTier(options);
}
