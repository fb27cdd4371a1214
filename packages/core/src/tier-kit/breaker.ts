export type BreakerState = "closed" | "open" | "half-open";

/** Numeric form of the state for stats (a gauge): 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_GAUGE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

export interface BreakerSettings {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** Time open before trying the service again, in ms. */
  cooldown: number;
}

/**
 * A circuit breaker: after `failures` consecutive failures it opens and every call is refused at
 * once. After `cooldown`, with a `probe`, it goes half-open and runs the probe itself (so it
 * recovers with no traffic): success closes it, failure opens it for another cooldown. Without a
 * probe it simply closes again after the cooldown and the next call tries the service.
 */
export class CircuitBreaker {
  state: BreakerState = "closed";
  /** Times the breaker opened from closed. */
  opens = 0;
  /** When an open breaker without a probe lets calls through again (ms since the epoch). */
  retryAt = 0;
  private consecutive = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly probe?: () => Promise<unknown>,
    private readonly onChange: (state: BreakerState, previous: BreakerState) => void = () => {},
  ) {}

  /** True when calls may go to the service. */
  get closed(): boolean {
    if (this.state === "open" && this.probe === undefined && Date.now() >= this.retryAt) {
      this.state = "closed";
      this.onChange("closed", "open");
    }
    return this.state === "closed";
  }

  success(): void {
    this.consecutive = 0;
  }

  failure(): void {
    if (this.state !== "closed") return;
    if (++this.consecutive >= this.settings.failures) this.open();
  }

  /** Asks for a probe now (the connection came back) instead of waiting out the cooldown. */
  probeSoon(): void {
    if (this.state !== "open" || this.disposed || this.probe === undefined) return;
    this.schedule(0);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private open(): void {
    const previous = this.state;
    this.state = "open";
    this.opens++;
    this.consecutive = 0;
    this.retryAt = Date.now() + this.settings.cooldown;
    this.onChange("open", previous);
    if (this.probe !== undefined) this.schedule(this.settings.cooldown);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.halfOpen(), ms);
    this.timer.unref?.();
  }

  private async halfOpen(): Promise<void> {
    this.timer = undefined;
    if (this.disposed || this.state !== "open") return;
    this.state = "half-open";
    this.onChange("half-open", "open");
    let ok = false;
    try {
      await this.probe!();
      ok = true;
    } catch {
      ok = false;
    }
    if (this.disposed) return;
    if (ok) {
      this.state = "closed";
      this.consecutive = 0;
      this.onChange("closed", "half-open");
    } else {
      // Still down: back to open (not counted as a new opening).
      this.state = "open";
      this.retryAt = Date.now() + this.settings.cooldown;
      this.onChange("open", "half-open");
      this.schedule(this.settings.cooldown);
    }
  }
}
