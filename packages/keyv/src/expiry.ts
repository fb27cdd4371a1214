import { type ExpiryPlan, planExpiry } from "@zarrs-cache/core";

/**
 * Longest TTL handed to the store: a century. Redis takes any whole number of ms up to 2^53
 * (`PX`), but not a fraction or a number JavaScript prints with an exponent (1e21 and up), and
 * stores that turn the TTL into a Date break near 8.64e15 ms after the epoch. Beyond this the
 * store gets no TTL and the envelope's absolute expiry alone ends the entry (read as a miss and
 * deleted when next read or listed).
 */
export const MAX_STORE_TTL = 100 * 365 * 24 * 60 * 60 * 1000;

/**
 * Core's expiry plan with Keyv's convention: a TTL too long for the store is handed over as 0,
 * which Keyv reads as "none", even over an instance default.
 */
export function keyvExpiry(ttl: number | undefined, now: number): ExpiryPlan {
  const plan = planExpiry(ttl, now, MAX_STORE_TTL);
  return plan.expiresAt !== undefined && plan.storeTtl === undefined ? { ...plan, storeTtl: 0 } : plan;
}
