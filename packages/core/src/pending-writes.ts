import type { CacheTier, SetOptions } from "./types.js";

/**
 * Fills of lower tiers that the caller does not wait for. Bounded: past `max` writes in
 * flight a fill is skipped (the value is still served and may be cached on a later read).
 */
export class PendingWrites {
  private readonly inFlight = new Set<Promise<void>>();
  dropped = 0;

  constructor(
    private readonly max: number,
    private readonly onError: (operation: string, tier: CacheTier, key: string, error: unknown) => void,
  ) {}

  get size(): number {
    return this.inFlight.size;
  }

  start(tier: CacheTier, key: string, value: Uint8Array, options: SetOptions | undefined): void {
    if (this.inFlight.size >= this.max) {
      this.dropped++;
      return;
    }
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

  /** Resolves when every write started so far (and any started meanwhile) has settled. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
