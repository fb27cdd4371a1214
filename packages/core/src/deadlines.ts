import { ZarrsCacheError } from "./errors.js";
import type { Flight } from "./flight.js";

/**
 * Load deadlines of one cache. Every flight gets the same timeout, so deadlines come in start
 * order: one timer for the oldest live flight serves them all, instead of a timer per load.
 * The timer is unref'd: a load waiting on real I/O keeps the process alive by itself.
 */
export class Deadlines {
  /** Live flights in start order (a Set keeps insertion order). */
  private readonly live = new Set<Flight>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly timeoutMs: number) {}

  add(flight: Flight): void {
    this.live.add(flight);
    if (this.timer === undefined) this.arm(flight.started + this.timeoutMs);
  }

  remove(flight: Flight): void {
    this.live.delete(flight);
  }

  /** Stops the timer (the cache closed). */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.live.clear();
  }

  private arm(at: number): void {
    const timer = setTimeout(this.expire, Math.max(0, at - Date.now()));
    (timer as { unref?: () => void }).unref?.();
    this.timer = timer;
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    const now = Date.now();
    for (const flight of this.live) {
      const deadline = flight.started + this.timeoutMs;
      if (deadline > now) {
        this.arm(deadline);
        return;
      }
      this.live.delete(flight);
      const error = new ZarrsCacheError(
        "TIMEOUT",
        `loading "${flight.key}" took longer than loadTimeout (${this.timeoutMs} ms); the load was abandoned`,
      );
      flight.abandon("timeout", error);
    }
  };
}
