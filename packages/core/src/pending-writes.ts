import type { CacheTier, SetOptions } from "./types.js";

const DRAIN_BATCH = 32;

interface Queued {
  tier: CacheTier;
  key: string;
  value: Uint8Array;
  options: SetOptions | undefined;
}

/**
 * Fills of tiers that the caller does not wait for. `start` begins a write now; `defer` queues it
 * for the next macrotask, so that a synchronous tier (SQLite) does its work while the reader
 * waits on something else rather than before the reader resumes. Bounded: past `max` writes
 * queued or in flight, a fill is skipped and counted (the value is still served).
 */
export class PendingWrites {
  /** Writes started and not yet settled, with their keys. */
  private readonly inFlight = new Map<Promise<void>, string>();
  private queue: Queued[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  dropped = 0;

  constructor(
    private readonly max: number,
    private readonly onError: (operation: string, tier: CacheTier, key: string, error: unknown) => void,
  ) {}

  get size(): number {
    return this.inFlight.size + this.queue.length;
  }

  /** Starts a write now; false when it was skipped (too many writes pending). */
  start(tier: CacheTier, key: string, value: Uint8Array, options: SetOptions | undefined): boolean {
    if (this.size >= this.max) {
      this.dropped++;
      return false;
    }
    this.run({ tier, key, value, options });
    return true;
  }

  /** Queues a write for the next macrotask; false when it was skipped (too many writes pending). */
  defer(tier: CacheTier, key: string, value: Uint8Array, options: SetOptions | undefined): boolean {
    if (this.size >= this.max) {
      this.dropped++;
      return false;
    }
    this.queue.push({ tier, key, value, options });
    // A reader whose loads never yield to the event loop (an in-process upstream) would otherwise
    // only ever grow the queue until fills are dropped: start them once a batch has gathered.
    if (this.queue.length >= DRAIN_BATCH) this.drain();
    else this.timer ??= setTimeout(() => this.drain(), 0);
    return true;
  }

  /** Forgets queued (not yet started) writes of matching keys: a newer write or an invalidation won. */
  cancel(matches: (key: string) => boolean): void {
    if (this.queue.length > 0) this.queue = this.queue.filter((q) => !matches(q.key));
  }

  /** Resolves once the writes of matching keys started before now have settled (queued ones are not started). */
  async settled(matches: (key: string) => boolean): Promise<void> {
    if (this.inFlight.size === 0) return;
    const running: Promise<void>[] = [];
    for (const [write, key] of this.inFlight) if (matches(key)) running.push(write);
    await Promise.all(running);
  }

  /** Starts every queued write, then resolves when all writes (and any started meanwhile) settled. */
  async flush(): Promise<void> {
    this.drain();
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight.keys()]);
      this.drain();
    }
  }

  private drain(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const queued = this.queue;
    this.queue = [];
    for (const write of queued) this.run(write);
  }

  private run({ tier, key, value, options }: Queued): void {
    let write: Promise<void>;
    try {
      write = tier.set(key, value, options);
    } catch (error) {
      this.onError("set", tier, key, error);
      return;
    }
    const tracked: Promise<void> = write.then(
      () => {
        this.inFlight.delete(tracked);
      },
      (error: unknown) => {
        this.inFlight.delete(tracked);
        this.onError("set", tier, key, error);
      },
    );
    this.inFlight.set(tracked, key);
  }
}
