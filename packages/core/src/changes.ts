/** Which keys a change touches. */
export type KeyMatcher = (key: string) => boolean;

/**
 * Bookkeeping for the read-after-change rule: a read that starts after a change (write, set,
 * delete, invalidation) completed never returns an older value.
 *
 * - `active` holds changes in progress: a load that starts during one of them may read the old
 *   value, so it must not cache it.
 * - `epoch` moves whenever a change starts or ends: a plain lookup whose awaits spanned a change
 *   does not backfill what it found.
 * - writes of one key run one after another (`serialize`), so the store and the cache see them
 *   in the same order, and deletions wait for writes already running (`writesSettled`).
 */
export class Changes {
  epoch = 0;
  private readonly active = new Set<KeyMatcher>();
  private readonly writeTails = new Map<string, Promise<void>>();

  begin(matches: KeyMatcher): KeyMatcher {
    this.active.add(matches);
    this.epoch++;
    return matches;
  }

  end(matches: KeyMatcher): void {
    this.active.delete(matches);
    this.epoch++;
  }

  /** True while a change of `key` is in progress. */
  affects(key: string): boolean {
    if (this.active.size === 0) return false;
    for (const matches of this.active) if (matches(key)) return true;
    return false;
  }

  /** Runs `write` once earlier writes of `key` have finished. */
  serialize<T>(key: string, write: () => Promise<T>): Promise<T> {
    const previous = this.writeTails.get(key);
    const result = previous === undefined ? write() : previous.then(write);
    const tail = result.then(noop, noop);
    this.writeTails.set(key, tail);
    void tail.then(() => {
      if (this.writeTails.get(key) === tail) this.writeTails.delete(key);
    });
    return result;
  }

  /** Resolves once the writes of matching keys running now have finished. */
  async writesSettled(matches: KeyMatcher): Promise<void> {
    if (this.writeTails.size === 0) return;
    const running: Promise<void>[] = [];
    for (const [key, tail] of this.writeTails) if (matches(key)) running.push(tail);
    await Promise.all(running);
  }
}

function noop(): void {}
