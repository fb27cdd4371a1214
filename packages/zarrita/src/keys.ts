import { CacheKeys } from "@zarrs-cache/core";

/** Paths whose whole-value key a store remembers (about 3 MiB at most for typical chunk paths). */
const REMEMBERED = 16_384;

/**
 * Cache keys of one store: core's unambiguous encoding (`CacheKeys`) under the store's namespace.
 * `whole(path)` for `get`, `range(path, range)` for `getRange`, `rangePrefix(path)` covers every
 * range key of a path (dropped when the path is written), and `parse(key)` inverts both (prefetch).
 *
 * `whole(path)` remembers the keys it built: a memory hit then looks one short path up instead of
 * concatenating and scanning a key, and hands the cache the same key string every time, whose hash
 * the engine has already computed (the tier's and plugins' lookups get cheaper too).
 */
export class StoreKeys extends CacheKeys {
  private readonly built = new Map<string, string>();

  override whole(path: string): string {
    let key = this.built.get(path);
    if (key === undefined) {
      key = super.whole(path); // throws for a path that is not a string, remembering nothing
      // Forgetting everything at once keeps this a plain Map; a working set this large re-learns.
      if (this.built.size >= REMEMBERED) this.built.clear();
      this.built.set(path, key);
    }
    return key;
  }
}

/** A store's identity: its URL when it has one (FetchStore), else undefined. */
export function storeIdentity(store: unknown): string | undefined {
  const url = (store as { url?: unknown } | null)?.url;
  if (typeof url === "string" && url.length > 0) return url.replace(/\/+$/, "");
  if (url instanceof URL) return url.href.replace(/\/+$/, "");
  return undefined;
}
