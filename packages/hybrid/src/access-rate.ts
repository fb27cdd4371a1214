/** Time constant of the rate estimate: accesses are weighted by e^(-age / 1 s). */
const TAU_MS = 1000;

interface Rate {
  /** Exponentially decayed count of accesses, as of `at`. */
  score: number;
  at: number;
}

/**
 * Measures each key's recent access rate in accesses per second, for keys that live on the disk
 * level only. The rate is an exponentially decayed count with a one-second time constant, so it
 * reads as "about how many accesses in the last second": a single access reads 1/s, a key used
 * steadily r times a second reads about r + 0.5/s, an idle key decays towards 0.
 *
 * At most `maxTracked` keys are followed (the least recently touched are dropped first), so a
 * long scan costs bounded memory; a key dropped that way simply starts again from zero.
 */
export class AccessRates {
  private readonly rates = new Map<string, Rate>();

  constructor(private readonly maxTracked: number) {}

  /** Records an access at `now` (ms) and returns the key's rate including it. */
  touch(key: string, now: number): number {
    const previous = this.rates.get(key);
    const score = (previous ? decay(previous, now) : 0) + 1;
    // Delete then set moves the key to the end: the Map's order is least recently touched first.
    if (previous) this.rates.delete(key);
    this.rates.set(key, { score, at: now });
    if (this.rates.size > this.maxTracked) this.rates.delete(this.rates.keys().next().value!);
    return score / (TAU_MS / 1000);
  }

  /** The key's rate at `now` without recording an access (0 when not tracked). */
  rate(key: string, now: number): number {
    const previous = this.rates.get(key);
    return previous ? decay(previous, now) / (TAU_MS / 1000) : 0;
  }

  forget(key: string): void {
    this.rates.delete(key);
  }

  forgetWhere(matches: (key: string) => boolean): void {
    for (const key of [...this.rates.keys()]) if (matches(key)) this.rates.delete(key);
  }

  clear(): void {
    this.rates.clear();
  }

  /** Drops keys whose rate decayed below `floor` accesses per second; returns how many. */
  prune(now: number, floor = 0.01): number {
    let dropped = 0;
    for (const [key, rate] of this.rates) {
      if (decay(rate, now) < floor) {
        this.rates.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  get size(): number {
    return this.rates.size;
  }
}

function decay(rate: Rate, now: number): number {
  const age = Math.max(0, now - rate.at);
  return rate.score * Math.exp(-age / TAU_MS);
}
