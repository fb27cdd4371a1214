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
  private readonly inFlight = new Set<Promise<void>>();
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

  start(tier: CacheTier, key: string, value: Uint8Array, options: SetOptions | undefined): void {
    if (this.size >= this.max) {
      this.dropped++;
      return;
    }
    this.run({ tier, key, value, options });
  }

  defer(tier: CacheTier, key: string, value: Uint8Array, options: SetOptions | undefined): void {
    if (this.size >= this.max) {
      this.dropped++;
      return;
    }
    this.queue.push({ tier, key, value, options });
    // A reader whose loads never yield to the event loop (an in-process upstream) would otherwise
    // only ever grow the queue until fills are dropped: start them once a batch has gathered.
    if (this.queue.length >= DRAIN_BATCH) this.drain();
    else this.timer ??= setTimeout(() => this.drain(), 0);
  }

  /** Forgets queued (not yet started) writes of matching keys: a newer write or an invalidation won. */
  cancel(matches: (key: string) => boolean): void {
    if (this.queue.length > 0) this.queue = this.queue.filter((q) => !matches(q.key));
  }

  /** Starts every queued write, then resolves when all writes (and any started meanwhile) settled. */
  async flush(): Promise<void> {
    this.drain();
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight]);
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
    this.inFlight.add(tracked);
  }
}
