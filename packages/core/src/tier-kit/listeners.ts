/** Why a tier dropped an entry on its own. */
export type EvictionReason = "evict" | "expire";
export type EvictionListener = (key: string, reason: EvictionReason) => void;

/**
 * A list of subscribers: `add` returns the unsubscribe function tiers hand back from `onEviction`
 * or `onInvalidation`. `emit` costs one length check when nobody listens.
 */
export class Listeners<A extends unknown[]> {
  private list: ((...args: A) => void)[] = [];

  add(listener: (...args: A) => void): () => void {
    this.list = [...this.list, listener];
    return () => {
      this.list = this.list.filter((l) => l !== listener);
    };
  }

  get size(): number {
    return this.list.length;
  }

  emit(...args: A): void {
    // The array is replaced, never mutated: a listener unsubscribing meanwhile is safe.
    for (const listener of this.list) listener(...args);
  }

  clear(): void {
    this.list = [];
  }
}

/** The `onEviction` subscribers of one tier. */
export class EvictionListeners extends Listeners<[key: string, reason: EvictionReason]> {}
