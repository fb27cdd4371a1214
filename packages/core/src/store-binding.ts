import type { CacheKeys } from "./cache-key.js";
import type { TieredCache } from "./tiered-cache.js";

/**
 * What a caching store wrapper (the zarrita adapter's `withCache`) tells tools that are handed
 * only the store, such as `warmRegion`: the cache behind it, the keys of its dataset, and a way
 * to read upstream directly (for coalesced range reads that are sliced into cache entries).
 */
export interface StoreBinding {
  readonly cache: TieredCache;
  readonly keys: CacheKeys;
  /** Reads `path` (or a byte range of it) from the wrapped store, bypassing the cache. */
  readonly fetch: (
    path: string,
    range: { offset: number; length: number } | undefined,
    signal: AbortSignal,
  ) => Promise<Uint8Array | undefined>;
  /** True when the wrapped store can read byte ranges. */
  readonly ranges: boolean;
}

/**
 * The property a caching store wrapper carries its binding under. Shared across copies of the
 * package: a registered symbol, not a module-local one. A store extension built with zarrita's
 * `defineStoreExtension` returns it among its overrides (its Proxy answers symbol reads too).
 */
export const STORE_BINDING: unique symbol = Symbol.for("@zarrs-cache/store-binding");

/** Marks `store` (a wrapper) as reading through `binding.cache`. */
export function bindStore(store: object, binding: StoreBinding): void {
  Object.defineProperty(store, STORE_BINDING, { value: binding, configurable: true, enumerable: false });
}

/** The binding of a caching store wrapper, or undefined for any other value. */
export function storeBinding(store: unknown): StoreBinding | undefined {
  if (store === null || (typeof store !== "object" && typeof store !== "function")) return undefined;
  return (store as Record<symbol, StoreBinding | undefined>)[STORE_BINDING];
}
