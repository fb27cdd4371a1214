import { ZarrsCacheError } from "../errors.js";
import type { CacheTier } from "../types.js";

/** The methods every CacheTier has; the rest of the contract is optional. */
export const TIER_METHODS = ["get", "set", "delete", "has", "clear", "keys", "stats", "close"] as const;

/** The required tier methods `value` lacks (all of them for a non-object). */
export function missingTierMethods(value: unknown): string[] {
  const candidate = value as Record<string, unknown> | null | undefined;
  return TIER_METHODS.filter((method) => typeof candidate?.[method] !== "function");
}

/**
 * Throws INVALID_CONFIG unless `value` has every required tier method. The message is
 * `${what} (missing get, set)` — `what` says where the tier came from, e.g.
 * `compressed(tier): the first argument must be a CacheTier`.
 */
export function assertTier(value: unknown, what: string): asserts value is CacheTier {
  const missing = missingTierMethods(value);
  if (missing.length > 0) throw new ZarrsCacheError("INVALID_CONFIG", `${what} (missing ${missing.join(", ")})`);
}
