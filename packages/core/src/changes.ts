/** Which keys a change touches. */
export type KeyMatcher = (key: string) => boolean;

/**
 * Bookkeeping for the read-after-change rule: a read that starts after a change (write, set,
 * delete, invalidation) completed never returns an older value.
 *
 * - `active` holds changes in progress: a load that starts during one of them may read the old
 *   value, so it must not cache it.
 * - `epoch` moves whenever a local change starts or ends: a plain lookup (`get`, a prefetch batch)
 *   whose awaits spanned one does not backfill what it found. Invalidations from a shared tier
 *   describe a change that already reached that tier, so they guard loads only: a plain lookup
 *   of the shared tier keeps backfilling what it read there.
 * - writes of one key run one after another (`serialize`), so the store and the cache see them
 *   in the same order.
 * - a removal (delete, invalidate) `overtake`s writes of its keys already running: one still in
 *   its store write will remove the key instead of caching its value (which may be older than
 *   what made the removal necessary), one already updating the tiers is waited for. A removal
 *   thus never waits for a slow store write, and no write puts an old value back after it.
 */
/** A write in progress: in its store write until `updating` is set. */
export interface RunningWrite {
  readonly key: string;
  /** A removal of its key started during its store write: it must not cache its value. */
  overtaken: boolean;
  /** Settles when its update of the tiers has. */
  updating?: Promise<void>;
}

export class Changes {
  epoch = 0;
  /** Changes in progress, each marked remote (from a shared tier) or not. */
  private readonly active = new Map<KeyMatcher, boolean>();
  private localActive = 0;
  private readonly writeTails = new Map<string, Promise<void>>();
  private readonly running = new Set<RunningWrite>();

  begin(matches: KeyMatcher, remote = false): void {
    this.active.set(matches, remote);
    if (remote) return;
    this.localActive++;
    this.epoch++;
  }

  end(matches: KeyMatcher): void {
    const remote = this.active.get(matches);
    this.active.delete(matches);
    if (remote !== false) return;
    this.localActive--;
    this.epoch++;
  }

  /** True while a change of `key` is in progress (loads started now must not cache). */
  affects(key: string): boolean {
    if (this.active.size === 0) return false;
    for (const matches of this.active.keys()) if (matches(key)) return true;
    return false;
  }

  /** True while a local change of `key` is in progress (plain lookups must not backfill). */
  affectsLocally(key: string): boolean {
    if (this.localActive === 0) return false;
    for (const [matches, remote] of this.active) if (!remote && matches(key)) return true;
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

  /** Registers a write whose store write starts now; `endWrite` when it is done. */
  beginWrite(key: string): RunningWrite {
    const write: RunningWrite = { key, overtaken: false };
    this.running.add(write);
    return write;
  }

  endWrite(write: RunningWrite): void {
    this.running.delete(write);
  }

  /** Marks matching writes still in their store write overtaken; resolves once those updating the tiers finished. */
  async overtake(matches: KeyMatcher): Promise<void> {
    if (this.running.size === 0) return;
    const updating: Promise<void>[] = [];
    for (const write of this.running) {
      if (!matches(write.key)) continue;
      if (write.updating === undefined) write.overtaken = true;
      else updating.push(write.updating);
    }
    await Promise.all(updating);
  }
}

function noop(): void {}
