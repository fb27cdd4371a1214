import {
  type CacheEntry,
  type CacheTier,
  type SetOptions,
  type TierStats,
  ZarrsCacheError,
  assertKey,
  assertSetOptions,
  assertTtl,
  assertKnownOptions,
  assertValue,
  configNumber,
  emptyStats,
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
  private evictionListeners: ((key: string, reason: "evict" | "expire") => void)[] = [];
  private closed = false;

  constructor(options: MemoryOptions) {
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new ZarrsCacheError("INVALID_CONFIG", "memory(options): options must be an object like { maxBytes: 256 * 1024 * 1024 }");
    }
    assertKnownOptions(OWNER, options, KNOWN_OPTIONS);
    configNumber(OWNER, "maxBytes", options.maxBytes, { min: 1, integer: true });
    configNumber(OWNER, "maxValueBytes", options.maxValueBytes, { min: 0, integer: true, optional: true });
    configNumber(OWNER, "entryOverhead", options.entryOverhead, { min: 0, integer: true, optional: true });
    try {
      assertTtl(options.ttl, `${OWNER}: option "ttl"`);
    } catch (error) {
      throw new ZarrsCacheError("INVALID_CONFIG", (error as Error).message);
    }
    if (options.name !== undefined && (typeof options.name !== "string" || options.name.length === 0)) {
      const got = JSON.stringify(options.name) ?? typeof options.name;
      throw new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: option "name" must be a non-empty string, got ${got}`);
    }
    this.name = options.name ?? "memory";
    this.defaultTtl = options.ttl;
    this.maxValueBytes = Math.min(options.maxValueBytes ?? options.maxBytes, options.maxBytes);
    this.overhead = options.entryOverhead ?? 128;
    this.lru = new LRUCache<string, Slot>({
      maxSize: options.maxBytes,
      sizeCalculation: (slot, key) => this.sizeOf(key, slot.value),
      dispose: (_slot, key, reason) => {
        if (reason !== "evict") return;
        this.counters.evictions++;
        for (const listener of this.evictionListeners) listener(key, "evict");
      },
    });
  }

  private sizeOf(key: string, value: Uint8Array): number {
    return value.byteLength + this.overhead + key.length * 2;
  }

  getSync(key: string): CacheEntry | undefined {
    if (this.closed) throw closedError();
    if (typeof key !== "string" || key.length === 0) assertKey(key);
    const slot = this.lru.get(key);
    if (slot === undefined) {
      this.counters.misses++;
      return undefined;
    }
    if (slot.expiresAt !== undefined && slot.expiresAt <= Date.now()) {
      this.lru.delete(key);
      this.counters.expired = (this.counters.expired ?? 0) + 1;
      for (const listener of this.evictionListeners) listener(key, "expire");
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
    this.assertOpen();
    assertKey(key);
    assertValue(value);
    assertSetOptions(options);
    if (value.byteLength > this.maxValueBytes || this.sizeOf(key, value) > this.lru.maxSize) {
      throw new ZarrsCacheError(
        "VALUE_TOO_LARGE",
        `memory tier "${this.name}": a value of ${value.byteLength} bytes does not fit (maxBytes ${this.lru.maxSize}, maxValueBytes ${this.maxValueBytes})`,
      );
    }
    const ttl = options?.ttl ?? this.defaultTtl;
    this.lru.set(key, { value: options?.transfer && isWhole(value) ? value : copyOf(value), expiresAt: ttl === undefined ? undefined : Date.now() + ttl });
    this.counters.sets++;
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    const removed = this.lru.delete(key);
    if (removed) this.counters.deletes++;
    return removed;
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    let removed = 0;
    for (const key of [...this.lru.keys()]) {
      if (key.startsWith(prefix) && this.lru.delete(key)) removed++;
    }
    this.counters.deletes += removed;
    return removed;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    assertKey(key);
    const slot = this.lru.peek(key);
    return slot !== undefined && (slot.expiresAt === undefined || slot.expiresAt > Date.now());
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.lru.clear();
  }

  async *keys(prefix = ""): AsyncIterable<string> {
    this.assertOpen();
    const now = Date.now();
    const live: string[] = [];
    for (const [key, slot] of this.lru.entries()) {
      if (key.startsWith(prefix) && (slot.expiresAt === undefined || slot.expiresAt > now)) live.push(key);
    }
    yield* live;
  }

  onEviction(listener: (key: string, reason: "evict" | "expire") => void): () => void {
    this.evictionListeners.push(listener);
    return () => {
      this.evictionListeners = this.evictionListeners.filter((l) => l !== listener);
    };
  }

  stats(): TierStats {
    return { ...this.counters, entries: this.lru.size, bytes: this.lru.calculatedSize, maxBytes: this.lru.maxSize };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lru.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
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

function closedError(): ZarrsCacheError {
  return new ZarrsCacheError("CLOSED", "the memory tier is closed");
}

/** A byte-bounded in-memory LRU tier: `memory({ maxBytes: 256 * 1024 * 1024 })`. */
export function memory(options: MemoryOptions): MemoryTier {
  return new MemoryTier(options);
}
