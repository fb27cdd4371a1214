/**
 * Cache keys of one store: core's unambiguous encoding (`CacheKeys`) under the store's namespace.
 * `whole(path)` for `get`, `range(path, range)` for `getRange`, `rangePrefix(path)` covers every
 * range key of a path (dropped when the path is written), and `parse(key)` inverts both (prefetch).
 */
export { CacheKeys as StoreKeys } from "@zarrs-cache/core";

/** A store's identity: its URL when it has one (FetchStore), else undefined. */
export function storeIdentity(store: unknown): string | undefined {
  const url = (store as { url?: unknown } | null)?.url;
  if (typeof url === "string" && url.length > 0) return url.replace(/\/+$/, "");
  if (url instanceof URL) return url.href.replace(/\/+$/, "");
  return undefined;
}
