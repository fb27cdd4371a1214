/**
 * Who asked for a read: a caller ("demand", the default when `origin` is missing) or a prefetch
 * ("prefetch": a plugin or `warmRegion` bringing keys in ahead of use; never counted as a hit or miss).
 */
export type EventOrigin = "demand" | "prefetch";

/**
 * Events a TieredCache emits, one by one, synchronously. Listeners must not throw; an exception is
 * swallowed. Plugins that hear every read take hits in batches instead (`on("hits")` on the plugin
 * context, see HitBatch in hit-batch.ts): the same content, delivered later but before any other event.
 */
export interface CacheEvents {
  /**
   * A lookup found the key at `level` (0 = the first tier). `absent` marks a cached "absent";
   * `bytes` is the value's size; `ms` is how long that level's lookup took (fractional, from
   * `performance.now()`), measured only while someone listens to `hit` or `levelMiss`: on every
   * lookup of a lower tier, and on one in 16 of the first tier's synchronous lookups (reading the
   * clock costs more than an in-memory lookup); undefined on the others.
   */
  hit: { key: string; tier: string; level: number; absent: boolean; bytes: number; ms?: number; origin?: EventOrigin };
  /** A lookup reached `level` and did not find the key there (or the tier failed); `ms` as for `hit`. */
  levelMiss: { key: string; tier: string; level: number; ms?: number; origin?: EventOrigin };
  /** No tier had the key. */
  miss: { key: string; origin?: EventOrigin };
  /**
   * A reader joined a load of the key already in flight (no lookup of its own). `flight` says who
   * started that load: a join of a "prefetch" flight is a prefetch that came late.
   */
  join: { key: string; flight: EventOrigin };
  /** The loader (upstream) answered for a key; `bytes` is 0 when absent; `ms` is fractional. */
  load: { key: string; bytes: number; absent: boolean; ms: number; origin?: EventOrigin };
  /** A value was written to the tiers (write-through, read-through fill, or `set`). */
  set: { key: string; bytes: number };
  /** A key was removed from every tier. */
  delete: { key: string };
  /** Every key starting with `prefix` was removed; `remote` when a shared tier asked for it. */
  invalidate: { prefix: string; remote: boolean };
  /** A tier dropped an entry on its own: its size bound ("evict") or its TTL ("expire"). */
  evict: { key: string; tier: string; level: number; reason: "evict" | "expire" };
  /** A lower-tier hit was copied into the tiers above it. */
  backfill: { key: string; level: number; origin?: EventOrigin };
  /**
   * A load was given up before it answered: it outlived `loadTimeout` ("timeout"), every caller
   * waiting for it aborted ("aborted"), or the cache closed ("closed"). Nothing was cached.
   */
  abandon: { key: string; reason: "timeout" | "aborted" | "closed"; ms: number; origin?: EventOrigin };
  /** A tier failed; the read was served from elsewhere. */
  error: { operation: string; tier?: string; key?: string; error: unknown };
}

export type CacheEventType = keyof CacheEvents;

/** Every event type, for checking a name a caller passed (the check below keeps it complete). */
export const CACHE_EVENT_TYPES = [
  "hit",
  "levelMiss",
  "miss",
  "join",
  "load",
  "set",
  "delete",
  "invalidate",
  "evict",
  "backfill",
  "abandon",
  "error",
] as const satisfies readonly CacheEventType[];
/** Fails to compile when an event is added to CacheEvents but not to CACHE_EVENT_TYPES. */
type AllListed<Missing extends never> = Missing;
type CacheEventTypesListed = AllListed<Exclude<CacheEventType, (typeof CACHE_EVENT_TYPES)[number]>>;
export type CacheEventListener<T extends CacheEventType> = (event: CacheEvents[T]) => void;

/**
 * A minimal typed emitter. Callers check `has(type)` before building an event object,
 * so an event nobody listens to costs one property read.
 */
export class Emitter<E> {
  private readonly listeners: { [K in keyof E]?: ((event: E[K]) => void)[] } = {};
  /** Listeners of any type; lets `has` answer with one comparison in the common no-listener case. */
  private count = 0;

  has(type: keyof E): boolean {
    return this.count !== 0 && this.listeners[type] !== undefined;
  }

  on<K extends keyof E>(type: K, listener: (event: E[K]) => void): () => void {
    const list = (this.listeners[type] ??= []);
    list.push(listener);
    this.count++;
    return () => {
      const current = this.listeners[type];
      if (!current || !current.includes(listener)) return;
      this.count--;
      const next = current.filter((l) => l !== listener);
      if (next.length === 0) delete this.listeners[type];
      else this.listeners[type] = next;
    };
  }

  emit<K extends keyof E>(type: K, event: E[K]): void {
    const list = this.listeners[type];
    if (!list) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch {
        // A faulty listener must not break a read.
      }
    }
  }

  /**
   * Calls `listener` for the next `type` event only, then removes it. Returns an unsubscribe
   * function; `off(type, listener)` removes it too.
   */
  once<K extends keyof E>(type: K, listener: (event: E[K]) => void): () => void {
    let unsubscribe: () => void = noop;
    const wrapper = Object.assign(
      (event: E[K]) => {
        unsubscribe();
        listener(event);
      },
      { [ONCE_OF]: listener },
    );
    unsubscribe = this.on(type, wrapper);
    return unsubscribe;
  }

  /**
   * Removes one registration of `listener` for `type` (also one made with `once`); true when
   * one was found. A listener added twice is called twice and needs two `off`s.
   */
  off<K extends keyof E>(type: K, listener: (event: E[K]) => void): boolean {
    const current = this.listeners[type];
    if (!current) return false;
    const at = current.findIndex((l) => l === listener || (l as OnceListener)[ONCE_OF] === listener);
    if (at === -1) return false;
    this.count--;
    // Copy on write: an emit iterating the old list is not disturbed.
    const next = current.slice(0, at).concat(current.slice(at + 1));
    if (next.length === 0) delete this.listeners[type];
    else this.listeners[type] = next;
    return true;
  }

  removeAll(): void {
    this.count = 0;
    for (const key of Object.keys(this.listeners)) delete (this.listeners as Record<string, unknown>)[key];
  }
}

/** Marks a `once` wrapper with the listener it wraps, so `off(type, listener)` finds it. */
const ONCE_OF = Symbol("onceOf");
type OnceListener = { [ONCE_OF]?: unknown };

function noop(): void {}
