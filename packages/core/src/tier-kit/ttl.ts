/** A TTL as stores take it: whole milliseconds, at least 1, rounded up (never expiring early). */
export function wholeMs(ttl: number): number {
  return Math.max(1, Math.ceil(ttl));
}

export interface ExpiryPlan {
  /** TTL to hand the store (whole ms), or undefined: no TTL at all, or one over `maxStoreTtl`. */
  storeTtl: number | undefined;
  /** Absolute expiry to write into the entry, or undefined for none. */
  expiresAt: number | undefined;
}

/**
 * The store TTL and entry expiry for a TTL in ms. The contract allows any positive finite TTL
 * (1500.5, 1e300); stores do not, so it is rounded up to whole ms, and past `maxStoreTtl` the
 * store gets none: the entry's own expiry (see entry-codec) ends it, read as a miss.
 */
export function planExpiry(ttl: number | undefined, now: number, maxStoreTtl: number): ExpiryPlan {
  if (ttl === undefined) return { storeTtl: undefined, expiresAt: undefined };
  const whole = wholeMs(ttl);
  return { storeTtl: whole <= maxStoreTtl ? whole : undefined, expiresAt: now + whole };
}
