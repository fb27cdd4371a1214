import {
  type CacheEntry,
  type CacheTier,
  type SetOptions,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertSetOptions,
  assertValue,
  emptyStats,
} from "@zarrs-cache/core";
import type { Keyv } from "keyv";
import { type DecodedEntry, decodeEntry, encodeBinary, encodeText } from "./envelope.js";
import { type KeyvTierOptions, type ResolvedOptions, assertKeyv, resolveOptions } from "./options.js";
import { isWrongType, storeError, withTimeout } from "./store-errors.js";
import { type Transport, chooseTransport, readBack } from "./transport.js";

/** Stands for "the key holds something that is not ours" (decodes to nothing). */
const FOREIGN = Symbol("foreign");

/** Stands for "Keyv's own expiry has passed" (Keyv.get would answer undefined). */
const EXPIRED = Symbol("expired");

async function* toAsync<T>(items: Iterable<T>): AsyncIterator<T> {
  yield* items;
}

/**
 * Any Keyv 5 instance as a CacheTier. Values travel in a small binary envelope (header with the
 * absolute expiry, then the bytes) as base64 text or as a Buffer, whichever this Keyv instance's
 * serializer stores in fewer bytes; `get` returns a plain Uint8Array and the expiry.
 *
 * Keyv and several store adapters swallow store errors (an undefined result plus an 'error'
 * event). The tier turns on Keyv's `throwOnErrors` and also treats an ambiguous result (a miss,
 * a set) during which an 'error' event fired as a failure, so an outage is never a silent miss.
 */
export class KeyvTier implements CacheTier {
  readonly name: string;
  readonly keyv: Keyv;
  private readonly options: ResolvedOptions;
  private readonly counters: TierStats = { ...emptyStats(), corruptions: 0, expired: 0, timeouts: 0, errorEvents: 0 };
  private readonly previousThrowOnErrors: boolean;
  private transport: Transport | undefined;
  private readonly transportReady: Promise<Transport | ZarrsCacheError>;
  private lastErrorEvent: unknown;
  private unavailableUntil = 0;
  private lastOutage: ZarrsCacheError | undefined;
  private closed = false;

  private readonly onErrorEvent = (error: unknown): void => {
    this.counters.errorEvents!++;
    this.lastErrorEvent = error;
  };

  constructor(keyv: Keyv, options?: KeyvTierOptions) {
    assertKeyv(keyv);
    this.options = resolveOptions(options);
    this.name = this.options.name;
    this.keyv = keyv;
    // Subscribing also means an 'error' nobody else listens to can never crash the process.
    keyv.on("error", this.onErrorEvent);
    this.previousThrowOnErrors = keyv.throwOnErrors;
    keyv.throwOnErrors = true;
    this.transportReady = chooseTransport(keyv, this.options.encoding).then(
      (transport) => (this.transport = transport),
      (error: unknown) =>
        new ZarrsCacheError("INVALID_CONFIG", `keyvTier(): cannot store bytes through this Keyv instance: ${(error as Error).message}`, { cause: error }),
    );
  }

  /** How values are handed to Keyv ("base64" text or a "binary" Buffer), known shortly after construction and at the latest after the first set. */
  get encoding(): Transport | undefined {
    return this.transport;
  }

  /** The key Keyv is given: already prefixed, so Keyv never mistakes a key like "ns:x" for a prefixed one. */
  private storeKey(key: string): string {
    const namespace = this.keyv.namespace;
    return this.keyv.useKeyPrefix && namespace ? `${namespace}:${key}` : key;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    this.assertOpen();
    assertKey(key);
    const entry = await this.read(key, "get");
    if (entry === undefined) this.counters.misses++;
    else this.counters.hits++;
    return entry;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    return (await this.read(key, "has")) !== undefined;
  }

  /** Reads and decodes one entry; foreign, corrupt and expired entries are undefined. */
  private async read(key: string, operation: string): Promise<DecodedEntry | undefined> {
    const epoch = this.counters.errorEvents;
    let stored = await this.call(operation, key, () => this.fetch(this.storeKey(key)));
    if (stored === undefined && this.counters.errorEvents !== epoch) {
      // The adapter swallowed an error and answered "absent": a key of another Redis type is
      // someone else's data (a miss), anything else is a failure.
      if (!isWrongType(this.lastErrorEvent)) throw this.failure(operation, this.lastErrorEvent);
      stored = FOREIGN;
    }
    if (stored === undefined) return undefined;
    const entry = stored === EXPIRED ? undefined : decodeEntry(stored);
    const expired = stored === EXPIRED || (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now());
    if (operation === "get") {
      if (expired) this.counters.expired!++;
      else if (entry === undefined) this.counters.corruptions!++;
    }
    return expired ? undefined : entry;
  }

  /**
   * What Keyv.get would return for `storeKey`, read from the store adapter the way Keyv reads it,
   * except that data Keyv's deserializer rejects is FOREIGN (a miss) rather than an error.
   */
  private async fetch(storeKey: string): Promise<unknown> {
    const adapter = this.keyv.store as { get(key: string): Promise<unknown> | unknown };
    let raw: unknown;
    try {
      raw = await adapter.get(storeKey);
    } catch (error) {
      if (isWrongType(error)) return FOREIGN;
      throw error;
    }
    if (raw === undefined || raw === null) return undefined;
    let data: Awaited<ReturnType<typeof readBack>>;
    try {
      data = await readBack(this.keyv, raw);
    } catch {
      return FOREIGN;
    }
    if (data === undefined) return FOREIGN;
    if (typeof data.expires === "number" && data.expires <= Date.now()) {
      // Keyv's own expiry: reclaim the row as Keyv.get would.
      await this.keyv.delete(storeKey).catch(() => false);
      return EXPIRED;
    }
    return data.value;
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.assertOpen();
    assertKey(key);
    assertValue(value);
    assertSetOptions(options);
    if (value.byteLength > this.options.maxValueBytes) {
      throw new ZarrsCacheError(
        "VALUE_TOO_LARGE",
        `keyv tier "${this.name}": a value of ${value.byteLength} bytes is over maxValueBytes (${this.options.maxValueBytes})`,
      );
    }
    const transport = this.transport ?? (await this.resolveTransport());
    const ttl = options?.ttl ?? this.options.ttl ?? this.keyvDefaultTtl();
    const expiresAt = ttl === undefined ? undefined : Date.now() + ttl;
    const encoded = transport === "base64" ? encodeText(value, expiresAt) : encodeBinary(value, expiresAt);
    const epoch = this.counters.errorEvents;
    const stored = await this.call("set", key, () => this.keyv.set(this.storeKey(key), encoded, ttl));
    // Adapters such as @keyv/redis report a failed write only through an 'error' event.
    if (this.counters.errorEvents !== epoch) throw this.failure("set", this.lastErrorEvent);
    if (stored === false) throw this.failure("set", new Error("the store refused the write"));
    this.counters.sets++;
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    const epoch = this.counters.errorEvents;
    const removed = await this.call("delete", key, () => this.keyv.delete(this.storeKey(key)));
    if (!removed && this.counters.errorEvents !== epoch) throw this.failure("delete", this.lastErrorEvent);
    if (removed) this.counters.deletes++;
    return removed;
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    if (typeof prefix !== "string") throw new ZarrsCacheError("INVALID_ARGUMENT", "deletePrefix(prefix) needs a string prefix");
    const keys: string[] = [];
    for await (const key of this.keys(prefix)) keys.push(key);
    let removed = 0;
    for (const key of keys) if (await this.delete(key)) removed++;
    return removed;
  }

  /** Empties this Keyv instance's namespace (Keyv's own clear(), scoped by the namespace). */
  async clear(): Promise<void> {
    this.assertOpen();
    const epoch = this.counters.errorEvents;
    await this.call("clear", undefined, () => this.keyv.clear());
    if (this.counters.errorEvents !== epoch) throw this.failure("clear", this.lastErrorEvent);
  }

  /**
   * Live keys of this tier starting with `prefix`. Reads the store through its adapter's iterator
   * (values included: Keyv has no key-only listing), keeps exact namespace matches that decode as
   * ours, and only yields after the scan, so a caller deleting while iterating cannot make an
   * offset-paginated scan (@keyv/sqlite) skip rows. Expired entries found are removed afterwards.
   * Throws UNSUPPORTED when the store cannot be iterated (Keyv sets no `iterator` for it).
   */
  async *keys(prefix = ""): AsyncIterable<string> {
    this.assertOpen();
    const live: string[] = [];
    const expired: string[] = [];
    const epoch = this.counters.errorEvents;
    const entries = this.rawEntries();
    for (;;) {
      const next = await this.call("keys", undefined, () => entries.next());
      if (next.done) break;
      const key = this.tierKey(next.value[0]);
      if (key === undefined || !key.startsWith(prefix)) continue;
      const state = await this.liveness(next.value[1]);
      if (state === "live") live.push(key);
      else if (state === "expired") expired.push(key);
    }
    if (this.counters.errorEvents !== epoch) throw this.failure("keys", this.lastErrorEvent);
    for (const key of expired) {
      // Reclaiming is best effort: Keyv deletes expired entries on read anyway.
      if (await this.keyv.delete(this.storeKey(key)).catch(() => false)) this.counters.expired!++;
    }
    yield* live;
  }

  /** An iterator over the store's raw [key, stored value] pairs, as Keyv's own iterator reads them. */
  private rawEntries(): AsyncIterator<[string, unknown]> {
    const store: unknown = this.keyv.store;
    if (store instanceof Map) return toAsync([...(store as Map<string, unknown>).entries()]);
    const adapter = store as { namespace?: string; iterator?: (namespace?: string) => AsyncIterable<[string, unknown]> };
    if (typeof this.keyv.iterator === "function" && typeof adapter.iterator === "function") {
      return adapter.iterator(adapter.namespace)[Symbol.asyncIterator]();
    }
    throw new ZarrsCacheError(
      "UNSUPPORTED",
      `keyv tier "${this.name}": this Keyv store cannot list its keys (Keyv 5 iterates only Map, sqlite, postgres, mysql, mongo, redis, valkey and etcd stores), so keys() and prefix invalidation are unavailable`,
    );
  }

  /** Our key for a key the store's iterator yields, or undefined when it is outside this namespace. */
  private tierKey(storeKey: unknown): string | undefined {
    if (typeof storeKey !== "string") return undefined;
    const namespace = this.keyv.namespace;
    if (!this.keyv.useKeyPrefix || !namespace) return storeKey;
    return storeKey.startsWith(`${namespace}:`) ? storeKey.slice(namespace.length + 1) : undefined;
  }

  private async liveness(stored: unknown): Promise<"live" | "expired" | "foreign"> {
    let data: Awaited<ReturnType<typeof readBack>>;
    try {
      data = await readBack(this.keyv, stored);
    } catch {
      return "foreign";
    }
    const entry = data === undefined ? undefined : decodeEntry(data.value);
    if (entry === undefined) return "foreign";
    const now = Date.now();
    const keyvExpired = typeof data!.expires === "number" && data!.expires <= now;
    return keyvExpired || (entry.expiresAt !== undefined && entry.expiresAt <= now) ? "expired" : "live";
  }

  stats(): TierStats {
    // entries/bytes stay undefined: a shared store cannot be sized exactly from one process.
    return { ...this.counters };
  }

  /** Stops listening to the Keyv instance, restores its throwOnErrors, and disconnects it unless told not to. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.options.disconnectOnClose) {
        await withTimeout(this.keyv.disconnect(), this.options.timeout, () => `keyv tier "${this.name}": disconnect`);
      }
    } catch (error) {
      throw storeError(this.name, "disconnect", error);
    } finally {
      this.keyv.throwOnErrors = this.previousThrowOnErrors;
      this.keyv.off("error", this.onErrorEvent);
    }
  }

  private keyvDefaultTtl(): number | undefined {
    const ttl = this.keyv.ttl;
    return typeof ttl === "number" && ttl > 0 ? ttl : undefined;
  }

  private async resolveTransport(): Promise<Transport> {
    const result = await this.transportReady;
    if (result instanceof ZarrsCacheError) throw result;
    return result;
  }

  /** Runs one call into Keyv with the time limit and the fail-fast window after an outage. */
  private async call<T>(operation: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    if (Date.now() < this.unavailableUntil) {
      this.counters.errors++;
      throw new ZarrsCacheError(
        "TIER_UNAVAILABLE",
        `keyv tier "${this.name}": the store failed recently (${this.lastOutage?.message}); retrying after ${new Date(this.unavailableUntil).toISOString()}`,
        { cause: this.lastOutage },
      );
    }
    try {
      return await withTimeout(run(), this.options.timeout, () => `keyv tier "${this.name}": ${operation}${key === undefined ? "" : ` of ${JSON.stringify(key)}`}`);
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  /** Counts a failed call and, when the store looks unreachable, fails fast for `retryAfter` ms. */
  private failure(operation: string, error: unknown): ZarrsCacheError {
    const wrapped = storeError(this.name, operation, error);
    this.counters.errors++;
    if (wrapped.code === "TIMEOUT") this.counters.timeouts!++;
    if ((wrapped.code === "TIMEOUT" || wrapped.code === "TIER_UNAVAILABLE") && this.options.retryAfter > 0) {
      this.unavailableUntil = Date.now() + this.options.retryAfter;
      this.lastOutage = wrapped;
    }
    return wrapped;
  }

  private assertOpen(): void {
    if (this.closed) throw new ZarrsCacheError("CLOSED", `keyv tier "${this.name}" is closed`);
  }
}

/** Any Keyv 5 instance as a binary-safe cache tier: `keyvTier(new Keyv({ store, namespace }))`. */
export function keyvTier(keyv: Keyv, options?: KeyvTierOptions): KeyvTier {
  return new KeyvTier(keyv, options);
}
