/**
 * Hits for plugins, in batches. A plugin that reacts to every read (metrics, warming) would
 * otherwise cost a memory hit an event object and a listener call; here a hit costs a few array
 * stores, and the plugin walks many hits at once, later.
 */
import { Emitter, type CacheEvents } from "./events.js";

/**
 * Hits in the order they happened: entry `i` (0 ≤ i < length) is one lookup that found its key.
 * Valid during the listener call only: the arrays are reused for the next batch.
 */
export interface HitBatch {
  readonly length: number;
  /** The keys found. */
  readonly keys: readonly string[];
  /** The level that had each key (0 = the first tier). */
  readonly levels: Uint8Array;
  /** Each value's size in bytes; 0 for a cached "absent". */
  readonly bytes: Float64Array;
  /** How long each lookup took in ms, or NaN when it was not timed (see the `hit` event). */
  readonly ms: Float64Array;
  /** 1 for a prefetch's lookup (`origin: "prefetch"`), 0 for a demand read. */
  readonly prefetch: Uint8Array;
}

export type HitBatchListener = (batch: HitBatch) => void;

/** Ends a batch subscription when called (delivering what waits first); `flush()` delivers what waits now. */
export interface HitSubscription {
  (): void;
  flush(): void;
}

/** Hits held before a batch is delivered on the spot. */
const CAPACITY = 512;

const later: (run: () => void) => unknown =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (globalThis as unknown as { setImmediate: (run: () => void) => unknown }).setImmediate
    : (run) => setTimeout(run, 0);

/**
 * Buffers hits and hands them to listeners: when CAPACITY hits wait, on the next macrotask, and
 * whenever `flush()` is called — the cache calls it before it emits any other event, so a listener
 * of both sees every read in order; a plugin calls it before it reads state built from hits.
 */
export class HitBuffer implements HitBatch {
  /** The batch being delivered: entries [0, length). */
  length = 0;
  /** Entries held (the next free slot). */
  size = 0;
  keys: string[] = new Array<string>(CAPACITY).fill("");
  levels = new Uint8Array(CAPACITY);
  bytes = new Float64Array(CAPACITY);
  ms = new Float64Array(CAPACITY);
  prefetch = new Uint8Array(CAPACITY);
  private listeners: HitBatchListener[] = [];
  private scheduled = false;
  private flushing = false;

  /** True while someone listens: only then is a hit recorded. */
  get listening(): boolean {
    return this.listeners.length !== 0;
  }

  on(listener: HitBatchListener): HitSubscription {
    this.listeners = [...this.listeners, listener];
    const unsubscribe = () => {
      this.flush();
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
    return Object.assign(unsubscribe, { flush: () => this.flush() });
  }

  push(key: string, level: number, bytes: number, ms: number, prefetch: boolean): void {
    const i = this.size;
    if (i === this.levels.length) this.grow(); // only while a flush is delivering (see flush)
    this.keys[i] = key;
    this.levels[i] = level;
    this.bytes[i] = bytes;
    this.ms[i] = ms;
    this.prefetch[i] = prefetch ? 1 : 0;
    this.size = i + 1;
    if (i === 0 && !this.scheduled) {
      this.scheduled = true;
      later(this.onLater);
    }
    if (i + 1 === CAPACITY) this.flush();
  }

  private readonly onLater = () => {
    this.scheduled = false;
    this.flush();
  };

  /** Delivers the hits waiting now (none: nothing happens). */
  flush(): void {
    if (this.size === 0 || this.flushing) return;
    this.flushing = true;
    const n = (this.length = this.size);
    try {
      for (const listener of this.listeners) {
        try {
          listener(this);
        } catch {
          // A faulty listener must not break a read.
        }
      }
    } finally {
      this.flushing = false;
      this.length = 0;
      // Hits a listener caused meanwhile (entries from n on) go out in the next batch.
      this.size -= n;
      if (this.size > 0) this.shift(n);
    }
  }

  /** Delivers what waits, then forgets every listener. */
  close(): void {
    this.flush();
    this.listeners = [];
  }

  private shift(n: number): void {
    const end = n + this.size;
    this.keys.copyWithin(0, n, end);
    this.levels.copyWithin(0, n, end);
    this.bytes.copyWithin(0, n, end);
    this.ms.copyWithin(0, n, end);
    this.prefetch.copyWithin(0, n, end);
    if (!this.scheduled) {
      this.scheduled = true;
      later(this.onLater);
    }
  }

  private grow(): void {
    const size = this.levels.length * 2;
    const levels = new Uint8Array(size);
    const bytes = new Float64Array(size);
    const ms = new Float64Array(size);
    const prefetch = new Uint8Array(size);
    levels.set(this.levels);
    bytes.set(this.bytes);
    ms.set(this.ms);
    prefetch.set(this.prefetch);
    Object.assign(this, { levels, bytes, ms, prefetch });
  }
}

/**
 * The cache's emitter. Every `hit` event also goes to the batch listeners (`hits.on`); the cache
 * itself skips building the event object while only batch listeners listen. Buffered hits are
 * delivered before any other event is, so a plugin that listens to hits in batches and to other
 * events one by one sees every read in the order it happened.
 */
export class CacheEmitter extends Emitter<CacheEvents> {
  readonly hits = new HitBuffer();

  override emit<K extends keyof CacheEvents>(type: K, event: CacheEvents[K]): void {
    if (this.hits.size !== 0) this.hits.flush();
    super.emit(type, event);
    if (type === "hit" && this.hits.listening) {
      const hit = event as CacheEvents["hit"];
      this.hits.push(hit.key, hit.level, hit.absent ? 0 : hit.bytes, hit.ms ?? Number.NaN, hit.origin === "prefetch");
    }
  }

  override removeAll(): void {
    this.hits.close();
    super.removeAll();
  }
}
