import {
  type CacheEntry,
  type CacheTier,
  Guard,
  OpenState,
  type SetOptions,
  type StoredEntry as DecodedEntry,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertPrefix,
  assertSetArguments,
  deleteByListing,
  emptyStats,
  isZarrsCacheError,
  withTimeout,
} from "@zarrs-cache/core";
import type { Keyv } from "keyv";
import { decodeStored, encodeBinary, encodeText } from "./envelope.js";
import { ErrorEvents, type EventMark } from "./error-events.js";
import { keyvExpiry } from "./expiry.js";
import { type KeyvTierOptions, type ResolvedOptions, assertKeyv, resolveOptions } from "./options.js";
import { isWrongType, storeError } from "./store-errors.js";
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
 * event). The tier turns on `throwOnErrors` in Keyv and, where it has one, in the adapter, and
 * treats an ambiguous result (a miss, a `false` delete) during which an 'error' event fired as a
 * failure, so an outage is never a silent miss.
 */
export class KeyvTier implements CacheTier {
  readonly name: string;
  readonly keyv: Keyv;
  private readonly options: ResolvedOptions;
  private readonly counters: TierStats = { ...emptyStats(), corruptions: 0, expired: 0, errorEvents: 0 };
  private readonly previousThrowOnErrors: boolean;
  /** The adapter's own `throwOnErrors` (as in @keyv/redis), when it has one: on while the tier is open. */
  private readonly adapterSwitch: { store: { throwOnErrors: boolean }; previous: boolean } | undefined;
  private readonly errorEvents = new ErrorEvents();
  private transport: Transport | undefined;
  private readonly transportReady: Promise<Transport | ZarrsCacheError>;
  /** Time limit per call, and fail-fast for `retryAfter` ms once the store looked unreachable. */
  private readonly guard: Guard;
  private lastOutage: ZarrsCacheError | undefined;
  private readonly state: OpenState;

  private readonly onErrorEvent = (error: unknown): void => {
    this.errorEvents.record(error);
    this.counters.errorEvents = this.errorEvents.count;
  };

  constructor(keyv: Keyv, options?: KeyvTierOptions) {
    assertKeyv(keyv);
    this.options = resolveOptions(options);
    this.name = this.options.name;
    this.keyv = keyv;
    this.state = new OpenState(`keyv tier "${this.name}"`);
    const retryAfter = this.options.retryAfter;
    this.guard = new Guard({
      label: `keyv tier "${this.name}"`,
      timeout: this.options.timeout,
      breaker: retryAfter > 0 && { failures: 1, cooldown: retryAfter },
      classify: (operation, error) => storeError(this.name, operation, error),
      refusal: (breaker) =>
        `the store failed recently (${this.lastOutage?.message}); retrying after ${new Date(breaker.retryAt).toISOString()}`,
      onError: (_operation, error) => {
        if (error.code === "TIMEOUT" || error.code === "TIER_UNAVAILABLE") this.lastOutage = error;
      },
    });
    // Subscribing also means an 'error' nobody else listens to can never crash the process.
    keyv.on("error", this.onErrorEvent);
    this.previousThrowOnErrors = keyv.throwOnErrors;
    keyv.throwOnErrors = true;
    // Without it @keyv/redis answers a failed write with success and only emits 'error'.
    const store = keyv.store as { throwOnErrors?: unknown } | undefined;
    if (store !== undefined && typeof store.throwOnErrors === "boolean") {
      this.adapterSwitch = { store: store as { throwOnErrors: boolean }, previous: store.throwOnErrors };
      store.throwOnErrors = true;
    }
    this.transportReady = chooseTransport(keyv, this.options.encoding).then(
      (transport) => (this.transport = transport),
      (error: unknown) =>
        new ZarrsCacheError("INVALID_CONFIG", `keyvTier(): cannot store bytes through this Keyv instance: ${(error as Error).message}`, {
          cause: error,
        }),
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
    this.state.assertOpen();
    assertKey(key);
    const entry = await this.read(key, "get");
    if (entry === undefined) this.counters.misses++;
    else this.counters.hits++;
    return entry;
  }

  async has(key: string): Promise<boolean> {
    this.state.assertOpen();
    assertKey(key);
    return (await this.read(key, "has")) !== undefined;
  }

  /** Reads and decodes one entry; foreign, corrupt and expired entries are undefined. */
  private async read(key: string, operation: string): Promise<DecodedEntry | undefined> {
    const mark = this.errorEvents.mark();
    let found = await this.call(operation, key, () => this.fetch(this.storeKey(key)));
    if (found === undefined) {
      // "Absent" may be an adapter that swallowed an error: a failure event while this read ran
      // makes it a failure. A WRONGTYPE event is a key of another Redis type (a miss); it can be
      // this read's own only when the adapter could not be made to throw it.
      const failed = this.errorEvents.failureSince(mark);
      if (failed) throw this.failure(operation, failed.error);
      if (this.adapterSwitch === undefined && this.errorEvents.wrongTypeSince(mark)) found = FOREIGN;
    }
    if (found === undefined) return undefined;
    if (operation === "get") {
      if (found === EXPIRED) this.counters.expired!++;
      else if (found === FOREIGN) this.counters.corruptions!++;
    }
    return found === EXPIRED || found === FOREIGN ? undefined : found;
  }

  /**
   * The entry under `storeKey`, read from the store adapter the way Keyv.get reads it, except that
   * data Keyv's deserializer rejects (or that is not an envelope of ours) is FOREIGN rather than an
   * error. An entry past Keyv's expiry or the envelope's is deleted, as Keyv.get does: the
   * envelope's expiry may be the only one (the store gets no TTL past MAX_STORE_TTL).
   */
  private async fetch(storeKey: string): Promise<DecodedEntry | typeof FOREIGN | typeof EXPIRED | undefined> {
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
    if (typeof data.expires === "number" && data.expires <= Date.now()) return this.reclaim(storeKey);
    const entry = decodeStored(data.value);
    if (entry === undefined) return FOREIGN;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) return this.reclaim(storeKey);
    return entry;
  }

  /** Deletes an expired row as Keyv.get would; best effort, the read is a miss either way. */
  private async reclaim(storeKey: string): Promise<typeof EXPIRED> {
    await this.keyv.delete(storeKey).catch(() => false);
    return EXPIRED;
  }

  /** The largest value `set` accepts, in bytes (the `maxValueBytes` option). */
  get maxValueBytes(): number {
    return this.options.maxValueBytes;
  }

  /**
   * Stores a value. `fill` and `loadStartedAt` are accepted and ignored: Keyv has no conditional
   * write, so a fill is a plain set here (see the README, "Conditional fills").
   */
  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.state.assertOpen();
    assertSetArguments(key, value, options, { maxValueBytes: this.options.maxValueBytes, label: `keyv tier "${this.name}"` });
    const transport = this.transport ?? (await this.resolveTransport());
    const { storeTtl, expiresAt } = keyvExpiry(options?.ttl ?? this.options.ttl ?? this.keyvDefaultTtl(), Date.now());
    const encoded = transport === "base64" ? encodeText(value, expiresAt) : encodeBinary(value, expiresAt);
    const mark = this.errorEvents.mark();
    const stored = await this.call("set", key, () => this.keyv.set(this.storeKey(key), encoded, storeTtl));
    if (stored === false) throw this.failure("set", new Error("the store refused the write"));
    this.failIfSwallowed("set", mark);
    this.counters.sets++;
  }

  /**
   * After a call that succeeded: an adapter without a `throwOnErrors` switch may have swallowed
   * its failure and reported it only as an 'error' event, so one fired meanwhile fails the call.
   * An adapter that throws its errors reported any failure itself: events are someone else's.
   */
  private failIfSwallowed(operation: string, mark: EventMark): void {
    if (this.adapterSwitch !== undefined) return;
    const failed = this.errorEvents.failureSince(mark);
    if (failed) throw this.failure(operation, failed.error);
  }

  async delete(key: string): Promise<boolean> {
    this.state.assertOpen();
    assertKey(key);
    const mark = this.errorEvents.mark();
    const removed = await this.call("delete", key, () => this.keyv.delete(this.storeKey(key)));
    // "Nothing to delete" may be a swallowed failure.
    const failed = removed ? undefined : this.errorEvents.failureSince(mark);
    if (failed) throw this.failure("delete", failed.error);
    if (removed) this.counters.deletes++;
    return removed;
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.state.assertOpen();
    assertPrefix(prefix);
    return deleteByListing(this, prefix);
  }

  /** Empties this Keyv instance's namespace (Keyv's own clear(), scoped by the namespace). */
  async clear(): Promise<void> {
    this.state.assertOpen();
    const mark = this.errorEvents.mark();
    await this.call("clear", undefined, () => this.keyv.clear());
    this.failIfSwallowed("clear", mark);
  }

  /**
   * Live keys of this tier starting with `prefix`. Reads the store through its adapter's iterator
   * (values included: Keyv has no key-only listing), keeps exact namespace matches that decode as
   * ours, and only yields after the scan, so a caller deleting while iterating cannot make an
   * offset-paginated scan (@keyv/sqlite) skip rows. Expired entries found are removed afterwards.
   * Throws UNSUPPORTED when the store cannot be iterated (Keyv sets no `iterator` for it).
   */
  async *keys(prefix = ""): AsyncIterable<string> {
    this.state.assertOpen();
    const live: string[] = [];
    const expired: string[] = [];
    const mark = this.errorEvents.mark();
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
    this.failIfSwallowed("keys", mark);
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
    const entry = data === undefined ? undefined : decodeStored(data.value);
    if (entry === undefined) return "foreign";
    const now = Date.now();
    const keyvExpired = typeof data!.expires === "number" && data!.expires <= now;
    return keyvExpired || (entry.expiresAt !== undefined && entry.expiresAt <= now) ? "expired" : "live";
  }

  stats(): TierStats {
    // entries/bytes stay undefined: a shared store cannot be sized exactly from one process.
    const guard = this.guard.counters;
    return { ...this.counters, errors: guard.errors + guard.rejected, timeouts: guard.timeouts };
  }

  /** Stops listening to the Keyv instance, restores its throwOnErrors, and disconnects it unless told not to. */
  async close(): Promise<void> {
    if (!this.state.markClosed()) return;
    this.guard.close();
    try {
      if (this.options.disconnectOnClose) {
        await withTimeout(this.keyv.disconnect(), this.options.timeout, () => `keyv tier "${this.name}": disconnect`);
      }
    } catch (error) {
      throw isZarrsCacheError(error) ? error : storeError(this.name, "disconnect", error);
    } finally {
      this.keyv.throwOnErrors = this.previousThrowOnErrors;
      if (this.adapterSwitch) this.adapterSwitch.store.throwOnErrors = this.adapterSwitch.previous;
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

  /** Runs one call into Keyv under the guard (time limit, fail-fast window after an outage). */
  private call<T>(operation: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    return this.guard.run(key === undefined ? operation : `${operation} of ${JSON.stringify(key)}`, run);
  }

  /** Counts a failure the tier detected itself (a swallowed error event) and returns it to throw. */
  private failure(operation: string, error: unknown): ZarrsCacheError {
    return this.guard.fail(operation, error);
  }
}

/** Any Keyv 5 instance as a binary-safe cache tier: `keyvTier(new Keyv({ store, namespace }))`. */
export function keyvTier(keyv: Keyv, options?: KeyvTierOptions): KeyvTier {
  return new KeyvTier(keyv, options);
}
