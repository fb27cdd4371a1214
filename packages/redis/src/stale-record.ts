/** Most prefixes remembered; past it they collapse into their common prefix. */
const MAX_PREFIXES = 16;

/** What a repair set out to fix: each entry with the generation it had when the repair began. */
export interface StaleSnapshot {
  keys: [string, number][];
  prefixes: [string, number][];
}

/**
 * Keys (and prefixes) whose copy in Redis may be older than this node's last write to them: the
 * write's SET/UNLINK or its invalidation message failed. Bounded: past `maxKeys` keys, the keys
 * collapse into their longest common prefix (at worst "", the whole namespace), which a repair
 * then invalidates as a whole. Over-covering is safe (a few extra misses); forgetting is not.
 *
 * Every entry carries a generation, bumped whenever it is recorded again, so that a repair that
 * began before a newer failure does not forget the newer one.
 */
export class StaleRecord {
  private readonly keys = new Map<string, number>();
  private readonly prefixes = new Map<string, number>();
  private generation = 0;
  /** Times the keys (or prefixes) were collapsed into a common prefix because there were too many. */
  coarsened = 0;

  constructor(private readonly maxKeys: number) {}

  /** Keys plus prefixes recorded now. */
  get size(): number {
    return this.keys.size + this.prefixes.size;
  }

  covers(key: string): boolean {
    if (this.keys.has(key)) return true;
    for (const prefix of this.prefixes.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** True when a recorded key or prefix falls under `prefix`, or a recorded prefix covers it. */
  overlaps(prefix: string): boolean {
    for (const key of this.keys.keys()) if (key.startsWith(prefix)) return true;
    for (const recorded of this.prefixes.keys()) if (recorded.startsWith(prefix) || prefix.startsWith(recorded)) return true;
    return false;
  }

  addKey(key: string): void {
    if (this.bumpCovering(key)) return;
    if (this.keys.size >= this.maxKeys && !this.keys.has(key)) {
      const prefix = commonPrefix([key, ...this.keys.keys()]);
      this.keys.clear();
      this.coarsened++;
      this.addPrefix(prefix);
      return;
    }
    this.keys.set(key, ++this.generation);
  }

  addPrefix(prefix: string): void {
    if (this.bumpCovering(prefix)) return;
    // Entries the new prefix covers go: it stays (newer generation) until a repair covers them all.
    for (const key of this.keys.keys()) if (key.startsWith(prefix)) this.keys.delete(key);
    for (const other of this.prefixes.keys()) if (other !== prefix && other.startsWith(prefix)) this.prefixes.delete(other);
    this.prefixes.set(prefix, ++this.generation);
    if (this.prefixes.size > MAX_PREFIXES) {
      const all = commonPrefix([...this.prefixes.keys()]);
      this.prefixes.clear();
      this.coarsened++;
      this.addPrefix(all);
    }
  }

  /**
   * When a recorded prefix covers `text`, records that prefix again (a repair already under way
   * may have scanned past the new write) and answers true.
   */
  private bumpCovering(text: string): boolean {
    for (const prefix of this.prefixes.keys()) {
      if (text.startsWith(prefix)) {
        this.prefixes.set(prefix, ++this.generation);
        return true;
      }
    }
    return false;
  }

  snapshot(): StaleSnapshot {
    return { keys: [...this.keys], prefixes: [...this.prefixes] };
  }

  /** Forgets what `snapshot` held, except entries recorded again since; returns how many were forgotten. */
  forget(snapshot: StaleSnapshot): number {
    let forgotten = 0;
    for (const [key, generation] of snapshot.keys) {
      if (this.keys.get(key) === generation) {
        this.keys.delete(key);
        forgotten++;
      }
    }
    for (const [prefix, generation] of snapshot.prefixes) {
      if (this.prefixes.get(prefix) === generation) {
        this.prefixes.delete(prefix);
        forgotten++;
      }
    }
    return forgotten;
  }
}

/** The longest string every one of `texts` starts with. */
export function commonPrefix(texts: readonly string[]): string {
  if (texts.length === 0) return "";
  let prefix = texts[0]!;
  for (const text of texts) {
    let i = 0;
    const max = Math.min(prefix.length, text.length);
    while (i < max && prefix.charCodeAt(i) === text.charCodeAt(i)) i++;
    prefix = prefix.slice(0, i);
    if (prefix === "") break;
  }
  // Never end inside a surrogate pair: Redis sees UTF-8, where half a pair matches no key.
  const last = prefix.charCodeAt(prefix.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? prefix.slice(0, -1) : prefix;
}
