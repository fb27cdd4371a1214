import type { CacheTier, HoldScope } from "./types.js";

/** Default `holdTime`: how long one hold lasts before it is renewed or lapses, in ms. */
export const DEFAULT_HOLD_TIME = 30_000;
/** Past this many keys held for one failed level, they collapse into a hold of their common prefix. */
const MAX_HELD_KEYS = 1024;

interface Held {
  scope: HoldScope;
  /** The level whose update failed (it may still serve the older value). */
  failed: number;
  /** The levels above it that took the hold. */
  levels: number[];
  until: number;
}

type ReportError = (operation: string, tier: CacheTier, key: string, error: unknown) => void;

/**
 * The holds a TieredCache placed on its upper tiers after a lower tier's update failed (see
 * `CacheTier.hold`). A hold lasts `holdTime` ms and is renewed while the failed tier reports its
 * repair pending (`repairPending`); once the repair is done it is released (after an invalidation
 * from that tier, or at the next renewal). A tier that cannot report repairs gets no renewal: its
 * holds lapse after `holdTime`. Holds live in the tiers (a shared disk directory): if this process
 * dies, they lapse on their own.
 */
export class Holds {
  private readonly held = new Map<string, Held>();
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Hold operations run one after another, so a release never overtakes a newer hold of the same scope. */
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly tiers: readonly CacheTier[],
    private readonly holdTime: number,
    private readonly report: ReportError,
  ) {}

  /** Scopes held now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * The update of `scope` failed at level `failed` and may have left the older value there: holds
   * every tier above it that supports holds, so no other process copies that value into them.
   * With `keep` (a write's new value), a held tier's copy of the key that is not `keep` is then
   * deleted: another process may have filled it with the older value before the hold. (Deletes
   * and invalidations clear the held tiers right after anyway.)
   */
  place(scope: HoldScope, failed: number, keep?: Uint8Array): Promise<void> {
    const levels = this.tiers.flatMap((tier, level) => (level < failed && typeof tier.hold === "function" ? [level] : []));
    if (levels.length === 0 || this.closed) return Promise.resolve();
    return this.serially(async () => {
      const until = Date.now() + this.holdTime;
      await this.each(levels, scope, "hold", (tier) => tier.hold!(scope, until));
      const key = scope.key;
      if (key !== undefined && keep !== undefined) {
        await this.each(levels, scope, "delete", async (tier) => {
          const entry = await tier.get(key, { load: false });
          if (entry !== undefined && !sameBytes(entry.value, keep)) await tier.delete(key);
        });
      }
      const id = idOf(scope, failed);
      const known = this.held.get(id)?.levels ?? [];
      this.held.set(id, { scope, failed, levels: [...new Set([...known, ...levels])], until });
      if (key !== undefined) await this.coarsen(failed);
      if (this.timer === undefined && !this.closed) {
        // Renewed at a third of the hold time: a renewal may be late by a busy event loop.
        this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.holdTime / 3)));
        (this.timer as { unref?: () => void }).unref?.();
      }
    });
  }

  /** An invalidation from level `level` reached the tiers above: releases the holds whose repair there is done. */
  afterInvalidation(level: number): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return this.serially(async () => {
      for (const [id, entry] of this.held) if (entry.failed === level && this.pending(entry) === false) await this.release(id, entry);
    });
  }

  /** Stops renewing; the holds placed lapse on their own (a repair may still be pending elsewhere). */
  close(): void {
    this.closed = true;
    this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private renew(): Promise<void> {
    return this.serially(async () => {
      const now = Date.now();
      for (const [id, entry] of this.held) {
        const pending = this.pending(entry);
        if (pending === false) await this.release(id, entry);
        else if (pending) {
          const until = (entry.until = now + this.holdTime);
          await this.each(entry.levels, entry.scope, "hold", (tier) => tier.hold!(entry.scope, until));
        } else if (entry.until <= now) this.held.delete(id);
      }
      if (this.held.size === 0) this.stopTimer();
    });
  }

  private async release(id: string, entry: Held): Promise<void> {
    this.held.delete(id);
    await this.each(entry.levels, entry.scope, "release", (tier) => tier.release?.(entry.scope));
  }

  /** Runs `work` on each tier of `levels` at once; a failure is reported, never thrown. */
  private async each(
    levels: number[],
    scope: HoldScope,
    operation: string,
    work: (tier: CacheTier) => Promise<unknown> | undefined,
  ): Promise<void> {
    await Promise.all(
      levels.map(async (level) => {
        const tier = this.tiers[level]!;
        try {
          await work(tier);
        } catch (error) {
          this.report(operation, tier, scope.key ?? `${scope.prefix}*`, error);
        }
      }),
    );
  }

  /** Too many keys held for one failed level: one hold of their common prefix replaces them. */
  private async coarsen(failed: number): Promise<void> {
    const keys = [...this.held.values()].filter((e) => e.failed === failed && e.scope.key !== undefined);
    if (keys.length <= MAX_HELD_KEYS) return;
    const scope = { prefix: commonPrefix(keys.map((e) => e.scope.key!)) };
    const levels = [...new Set(keys.flatMap((e) => e.levels))];
    const until = Date.now() + this.holdTime;
    await this.each(levels, scope, "hold", (tier) => tier.hold!(scope, until));
    this.held.set(idOf(scope, failed), { scope, failed, levels, until });
    // The prefix hold covers them: their own holds lapse, nobody renews them.
    for (const entry of keys) this.held.delete(idOf(entry.scope, failed));
  }

  /** Whether the failed tier's repair of the entry is pending; undefined when the tier cannot tell. */
  private pending(entry: Held): boolean | undefined {
    const tier = this.tiers[entry.failed]!;
    if (typeof tier.repairPending !== "function") return undefined;
    try {
      return tier.repairPending(entry.scope) === true;
    } catch (error) {
      // Cannot tell: keep holding.
      this.report("repairPending", tier, entry.scope.key ?? `${entry.scope.prefix}*`, error);
      return true;
    }
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.tail.then(work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function idOf(scope: HoldScope, failed: number): string {
  return scope.key !== undefined ? `${failed}k${scope.key}` : `${failed}p${scope.prefix}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The longest string every one of `texts` starts with (never ending inside a surrogate pair). */
function commonPrefix(texts: readonly string[]): string {
  let prefix = texts[0]!;
  for (const text of texts) {
    let i = 0;
    while (i < prefix.length && prefix.charCodeAt(i) === text.charCodeAt(i)) i++;
    prefix = prefix.slice(0, i);
  }
  const last = prefix.charCodeAt(prefix.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? prefix.slice(0, -1) : prefix;
}
