import {
  type CacheEntry,
  type CacheTier,
  DEFAULT_ENTRY_OVERHEAD,
  type EvictionListener,
  EvictionListeners,
  OpenState,
  type SetOptions,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertKnownOptions,
  assertPrefix,
  assertSetArguments,
  configName,
  configNumber,
  configTtl,
  emptyStats,
  entryBytes,
} from "@zarrs-cache/core";
import { LRUCache } from "lru-cache";

export interface MemoryOptions {
  /** Upper bound on bytes held: payloads plus a per-entry overhead estimate. */
  maxBytes: number;
  /** Default TTL in ms for entries set without one; omitted: no expiry. */
  ttl?: number;
  /** Largest single value accepted (default: maxBytes). */
  maxValueBytes?: number;
  /** Estimated bookkeeping bytes per entry, added to its size (default 128, plus 2 bytes per key char). */
  entryOverhead?: number;
  /** Name in stats and events (default "memory"). */
  name?: string;
}

const OWNER = "memory()";
const KNOWN_OPTIONS = ["maxBytes", "ttl", "maxValueBytes", "entryOverhead", "name"] as const;

interface Slot {
  value: Uint8Array;
  expiresAt: number | undefined;
}

/**
 * A byte-bounded LRU tier on lru-cache. Hits return the stored buffer without copying (callers
 * such as the zarrita adapter copy once, where needed); `set` copies, so a caller mutating its
 * buffer later cannot change what is cached, unless the caller hands the buffer over (`transfer`).
 */
export class MemoryTier implements CacheTier {
  readonly name: string;
  private readonly lru: LRUCache<string, Slot>;
  private readonly defaultTtl: number | undefined;
  /** The largest single value accepted (a wrapper such as compressed() bounds itself by it). */
  readonly maxValueBytes: number;
  private readonly overhead: number;
  private readonly counters = emptyStats();
  private readonly evictions = new EvictionListeners();
  private readonly state = new OpenState("the memory tier");

  constructor(options: MemoryOptions) {
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new ZarrsCacheError("INVALID_CONFIG", "memory(options): options must be an object like { maxBytes: 256 * 1024 * 1024 }");
    }
    assertKnownOptions(OWNER, options, KNOWN_OPTIONS);
    configNumber(OWNER, "maxBytes", options.maxBytes, { min: 1, integer: true });
    configNumber(OWNER, "maxValueBytes", options.maxValueBytes, { min: 0, integer: true, optional: true });
    configNumber(OWNER, "entryOverhead", options.entryOverhead, { min: 0, integer: true, optional: true });
    configTtl(OWNER, "ttl", options.ttl);
    configName(OWNER, options.name);
    this.name = options.name ?? "memory";
    this.defaultTtl = options.ttl;
    this.maxValueBytes = Math.min(options.maxValueBytes ?? options.maxBytes, options.maxBytes);
    this.overhead = options.entryOverhead ?? DEFAULT_ENTRY_OVERHEAD;
    this.lru = new LRUCache<string, Slot>({
      maxSize: options.maxBytes,
      sizeCalculation: (slot, key) => this.sizeOf(key, slot.value),
      dispose: (_slot, key, reason) => {
        if (reason !== "evict") return;
        this.counters.evictions++;
        this.evictions.emit(key, "evict");
      },
    });
  }

  private sizeOf(key: string, value: Uint8Array): number {
    return entryBytes(key, value, this.overhead);
  }

  getSync(key: string): CacheEntry | undefined {
    if (this.state.closed) throw this.state.error();
    if (typeof key !== "string" || key.length === 0) assertKey(key);
    const slot = this.lru.get(key);
    if (slot === undefined) {
      this.counters.misses++;
      return undefined;
    }
    if (slot.expiresAt !== undefined && slot.expiresAt <= Date.now()) {
      this.lru.delete(key);
      this.counters.expired = (this.counters.expired ?? 0) + 1;
      this.evictions.emit(key, "expire");
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return slot;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return this.getSync(key);
  }

  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    return keys.map((key) => this.getSync(key));
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.setSync(key, value, options);
  }

  /** Synchronous set; throws VALUE_TOO_LARGE (changing nothing) for a value over the bound. */
  setSync(key: string, value: Uint8Array, options?: SetOptions): void {
    this.state.assertOpen();
    assertSetArguments(key, value, options);
    if (value.byteLength > this.maxValueBytes || this.sizeOf(key, value) > this.lru.maxSize) {
      throw new ZarrsCacheError(
        "VALUE_TOO_LARGE",
        `memory tier "${this.name}": a value of ${value.byteLength} bytes does not fit (maxBytes ${this.lru.maxSize}, maxValueBytes ${this.maxValueBytes})`,
      );
    }
    const ttl = options?.ttl ?? this.defaultTtl;
    this.lru.set(key, {
      value: options?.transfer && isWhole(value) ? value : copyOf(value),
      expiresAt: ttl === undefined ? undefined : Date.now() + ttl,
    });
    this.counters.sets++;
  }

  async delete(key: string): Promise<boolean> {
    this.state.assertOpen();
    assertKey(key);
    const removed = this.lru.delete(key);
    if (removed) this.counters.deletes++;
    return removed;
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.state.assertOpen();
    assertPrefix(prefix);
    let removed = 0;
    for (const key of [...this.lru.keys()]) {
      if (key.startsWith(prefix) && this.lru.delete(key)) removed++;
    }
    this.counters.deletes += removed;
    return removed;
  }

  async has(key: string): Promise<boolean> {
    this.state.assertOpen();
    assertKey(key);
    const slot = this.lru.peek(key);
    return slot !== undefined && (slot.expiresAt === undefined || slot.expiresAt > Date.now());
  }

  async clear(): Promise<void> {
    this.state.assertOpen();
    this.lru.clear();
  }

  async *keys(prefix = ""): AsyncIterable<string> {
    this.state.assertOpen();
    const now = Date.now();
    const live: string[] = [];
    for (const [key, slot] of this.lru.entries()) {
      if (key.startsWith(prefix) && (slot.expiresAt === undefined || slot.expiresAt > now)) live.push(key);
    }
    yield* live;
  }

  onEviction(listener: EvictionListener): () => void {
    return this.evictions.add(listener);
  }

  stats(): TierStats {
    return { ...this.counters, entries: this.lru.size, bytes: this.lru.calculatedSize, maxBytes: this.lru.maxSize };
  }

  async close(): Promise<void> {
    if (this.state.markClosed()) this.lru.clear();
  }
}

/** A plain Uint8Array over its whole ArrayBuffer: keeping it retains nothing more than itself. */
function isWhole(value: Uint8Array): boolean {
  return value.constructor === Uint8Array && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
}

function copyOf(value: Uint8Array): Uint8Array {
  const copy = new Uint8Array(value.byteLength);
  copy.set(value);
  return copy;
}

/** A byte-bounded in-memory LRU tier: `memory({ maxBytes: 256 * 1024 * 1024 })`. */
export function memory(options: MemoryOptions): MemoryTier {
  return new MemoryTier(options);
}
