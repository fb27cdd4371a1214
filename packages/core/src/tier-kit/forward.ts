import type { CacheTier } from "../types.js";

/** The optional CacheTier methods a wrapper may pass straight through to the tier it wraps. */
export type OptionalTierMethod =
  | "getSync"
  | "getMany"
  | "deletePrefix"
  | "onEviction"
  | "onInvalidation"
  | "loadSettled"
  | "open"
  | "hold"
  | "release"
  | "repairPending";

/**
 * Gives `wrapper` each of `methods` that `inner` has, calling `inner`'s. With `before` (e.g. the
 * wrapper's closed check; only for methods returning a promise) its error becomes a rejected
 * promise, as from an async method. A method the inner tier lacks stays absent on the wrapper too, so the
 * TieredCache's feature checks (`if (tier.getMany)`) see the truth.
 */
export function forwardOptional(wrapper: object, inner: CacheTier, methods: readonly OptionalTierMethod[], before?: () => void): void {
  const target = wrapper as Record<string, unknown>;
  for (const method of methods) {
    const own = inner[method] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof own !== "function") continue;
    target[method] =
      before === undefined
        ? (...args: unknown[]) => own.apply(inner, args)
        : (...args: unknown[]) => {
            try {
              before();
            } catch (error) {
              return Promise.reject(error);
            }
            return own.apply(inner, args);
          };
  }
}
