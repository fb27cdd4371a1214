/**
 * Longest TTL handed to the store: a century. Redis takes any whole number of ms up to 2^53
 * (`PX`), but not a fraction or a number JavaScript prints with an exponent (1e21 and up), and
 * stores that turn the TTL into a Date break near 8.64e15 ms after the epoch. Beyond this the
 * store gets no TTL and the envelope's absolute expiry alone ends the entry (read as a miss and
 * deleted when next read or listed).
 */
export const MAX_STORE_TTL = 100 * 365 * 24 * 60 * 60 * 1000;

export interface ExpiryPlan {
  /** TTL for `keyv.set`: whole ms; 0 means "none" to Keyv, even over an instance default; undefined when there is no TTL at all. */
  storeTtl: number | undefined;
  /** Absolute expiry written into the envelope, or undefined for none. */
  expiresAt: number | undefined;
}

/**
 * The store TTL and envelope expiry for a TTL in ms. The contract allows any positive finite TTL
 * (1500.5, 1e300); stores do not, so it is rounded up to whole ms (never expiring early in ms).
 */
export function planExpiry(ttl: number | undefined, now: number): ExpiryPlan {
  if (ttl === undefined) return { storeTtl: undefined, expiresAt: undefined };
  const whole = Math.max(1, Math.ceil(ttl));
  return { storeTtl: whole <= MAX_STORE_TTL ? whole : 0, expiresAt: now + whole };
}
