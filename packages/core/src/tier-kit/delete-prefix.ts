import type { CacheTier } from "../types.js";

/**
 * Removes every key of `tier` starting with `prefix` by listing them first, then deleting each:
 * the fallback for tiers without their own `deletePrefix`. Listing before deleting keeps an
 * offset-paginated listing (a SQL store) from skipping rows. Returns how many were removed.
 */
export async function deleteByListing(tier: Pick<CacheTier, "keys" | "delete">, prefix: string): Promise<number> {
  const keys: string[] = [];
  for await (const key of tier.keys(prefix)) keys.push(key);
  let removed = 0;
  for (const key of keys) if (await tier.delete(key)) removed++;
  return removed;
}

/** `tier.deletePrefix(prefix)` when the tier has it, else the listing fallback. */
export function deletePrefixOf(tier: CacheTier, prefix: string): Promise<number> {
  return tier.deletePrefix ? tier.deletePrefix(prefix) : deleteByListing(tier, prefix);
}
