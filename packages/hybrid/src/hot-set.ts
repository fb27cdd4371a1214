import { type CacheEntry, DEFAULT_ENTRY_OVERHEAD, entryBytes } from "@zarrs-cache/core";

export interface HotSetOptions {
  maxBytes: number;
  maxValueBytes?: number;
  entryOverhead?: number;
}

interface Resident {
  /** The bytes (the hot set's own copy). */
  value: Uint8Array;
  /** Bytes charged to the memory budget (core's entryBytes, the memory tier's formula). */
  size: number;
  /** The entry's absolute expiry (carried exactly from the disk level), if any. */
  expiresAt: number | undefined;
  /** Last access on the hybrid's clock (for idle demotion). */
  lastAccess: number;
  /** In the protected segment (hit at least once since admission) rather than probation. */
  protected: boolean;
}

/** The most residents one admission may displace; a bigger candidate is simply refused. */
const MAX_VICTIMS = 16;
/** Share of the budget the protected segment may fill (as in W-TinyLFU's main region). */
const PROTECTED_SHARE = 0.8;

/**
 * The memory level of a hybrid tier: the residents and their bytes, under one byte budget. The
 * hybrid decides what enters and leaves (admission, demotion), so there is no LRU of its own
 * underneath: each resident holds its bytes, sized with core's `entryBytes` (the memory tier's
 * formula).
 *
 * The index is a segmented LRU: new residents enter `probation`; a hit moves one to
 * `protected` (at most 80% of the budget; its overflow goes back to probation). Victims come
 * from probation's least recently used end first, so an entry admitted once and never read
 * again is the first to go, before anything that proved itself with a hit.
 */
export class HotSet {
  /** Both segments in least-recently-used-first order (a Map keeps insertion order). */
  private readonly probation = new Map<string, Resident>();
  private readonly protectedSegment = new Map<string, Resident>();
  readonly maxBytes: number;
  readonly maxValueBytes: number;
  private readonly protectedMaxBytes: number;
  private readonly overhead: number;
  private usedBytes = 0;
  private protectedBytes = 0;

  constructor(options: HotSetOptions) {
    this.maxBytes = options.maxBytes;
    this.maxValueBytes = Math.min(options.maxValueBytes ?? options.maxBytes, options.maxBytes);
    this.protectedMaxBytes = Math.floor(options.maxBytes * PROTECTED_SHARE);
    this.overhead = options.entryOverhead ?? DEFAULT_ENTRY_OVERHEAD;
  }

  sizeOf(key: string, value: Uint8Array): number {
    return entryBytes(key, value, this.overhead);
  }

  fits(key: string, value: Uint8Array): boolean {
    return value.byteLength <= this.maxValueBytes && this.sizeOf(key, value) <= this.maxBytes;
  }

  get freeBytes(): number {
    return this.maxBytes - this.usedBytes;
  }

  get bytes(): number {
    return this.usedBytes;
  }

  get size(): number {
    return this.probation.size + this.protectedSegment.size;
  }

  has(key: string): boolean {
    return this.find(key) !== undefined;
  }

  /** True for a live (unexpired) resident, without touching its recency. */
  contains(key: string): boolean {
    const resident = this.find(key);
    return resident !== undefined && (resident.expiresAt === undefined || resident.expiresAt > Date.now());
  }

  /** The live entry (marking it most recently used at `now`), or undefined; drops it if expired. */
  get(key: string, now: number): CacheEntry | undefined {
    const resident = this.find(key);
    if (resident === undefined) return undefined;
    if (resident.expiresAt !== undefined && resident.expiresAt <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    resident.lastAccess = now;
    if (resident.protected) {
      this.protectedSegment.delete(key);
      this.protectedSegment.set(key, resident);
    } else {
      this.probation.delete(key);
      resident.protected = true;
      this.protectedSegment.set(key, resident);
      this.protectedBytes += resident.size;
      this.shrinkProtected();
    }
    return { value: resident.value, expiresAt: resident.expiresAt };
  }

  /**
   * Residents to displace so that `size` more bytes fit: probation's least recently used first,
   * then protected's. An empty list when they fit already, undefined when too many would go.
   */
  victimsFor(size: number): string[] | undefined {
    const victims: string[] = [];
    let free = this.freeBytes;
    for (const segment of [this.probation, this.protectedSegment]) {
      for (const [key, resident] of segment) {
        if (free >= size) return victims;
        if (victims.length === MAX_VICTIMS) return undefined;
        victims.push(key);
        free += resident.size;
      }
    }
    return free >= size ? victims : undefined;
  }

  /**
   * Stores a copy of an entry in probation (the caller may reuse its buffer); it must fit in the
   * free budget (check `victimsFor` first). False if already expired.
   */
  insert(key: string, entry: CacheEntry, now: number): boolean {
    this.remove(key);
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) return false;
    const size = this.sizeOf(key, entry.value);
    const value = new Uint8Array(entry.value.byteLength);
    value.set(entry.value);
    this.probation.set(key, { value, size, expiresAt: entry.expiresAt, lastAccess: now, protected: false });
    this.usedBytes += size;
    return true;
  }

  /** Removes a resident and returns its entry (undefined if absent or already expired). */
  remove(key: string): CacheEntry | undefined {
    const resident = this.find(key);
    if (resident === undefined) return undefined;
    this.forget(key, resident);
    if (resident.expiresAt !== undefined && resident.expiresAt <= Date.now()) return undefined;
    return { value: resident.value, expiresAt: resident.expiresAt };
  }

  /** Residents not accessed since `cutoff` (on the hybrid's clock). */
  idleSince(cutoff: number): string[] {
    return this.matching((_key, resident) => resident.lastAccess <= cutoff);
  }

  /** Drops expired residents; returns how many. */
  reclaimExpired(): number {
    const now = Date.now();
    const expired = this.matching((_key, resident) => resident.expiresAt !== undefined && resident.expiresAt <= now);
    for (const key of expired) this.forget(key, this.find(key)!);
    return expired.length;
  }

  /** Live resident keys starting with `prefix`. */
  keys(prefix = ""): string[] {
    const now = Date.now();
    return this.matching((key, resident) => key.startsWith(prefix) && (resident.expiresAt === undefined || resident.expiresAt > now));
  }

  /** Removes every resident starting with `prefix`; returns the keys removed. */
  removePrefix(prefix: string): string[] {
    const removed = this.matching((key) => key.startsWith(prefix));
    for (const key of removed) this.forget(key, this.find(key)!);
    return removed;
  }

  async clear(): Promise<void> {
    this.reset();
  }

  async close(): Promise<void> {
    this.reset();
  }

  /** The residents' sizes recounted from their bytes, for checking the running total `bytes`. */
  storeBytes(): number {
    let total = 0;
    for (const segment of [this.probation, this.protectedSegment]) {
      for (const [key, resident] of segment) total += this.sizeOf(key, resident.value);
    }
    return total;
  }

  private find(key: string): Resident | undefined {
    return this.protectedSegment.get(key) ?? this.probation.get(key);
  }

  /** Moves protected's least recently used entries back to probation while it is over its share. */
  private shrinkProtected(): void {
    for (const [key, resident] of this.protectedSegment) {
      if (this.protectedBytes <= this.protectedMaxBytes) return;
      this.protectedSegment.delete(key);
      this.protectedBytes -= resident.size;
      resident.protected = false;
      this.probation.set(key, resident);
    }
  }

  private matching(predicate: (key: string, resident: Resident) => boolean): string[] {
    const out: string[] = [];
    for (const segment of [this.probation, this.protectedSegment]) {
      for (const [key, resident] of segment) if (predicate(key, resident)) out.push(key);
    }
    return out;
  }

  private reset(): void {
    this.probation.clear();
    this.protectedSegment.clear();
    this.usedBytes = 0;
    this.protectedBytes = 0;
  }

  private forget(key: string, resident: Resident): void {
    if (resident.protected) {
      this.protectedSegment.delete(key);
      this.protectedBytes -= resident.size;
    } else this.probation.delete(key);
    this.usedBytes -= resident.size;
  }
}
