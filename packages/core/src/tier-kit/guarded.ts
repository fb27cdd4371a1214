import { ZarrsCacheError } from "../errors.js";
import type { CacheEntry, CacheTier, SetOptions, TierGetOptions, TierStats } from "../types.js";
import { assertKnownOptions, configNumber } from "../validate.js";
import { assertTier } from "./assert-tier.js";
import { BREAKER_STATE_GAUGE, type BreakerSettings } from "./breaker.js";
import { forwardOptional } from "./forward.js";
import { Guard } from "./guard.js";

export interface GuardedOptions {
  /** Time limit per call in ms; 0 = none (default 2000). */
  timeout?: number;
  /** Circuit breaker (default { failures: 5, cooldown: 1000 }); false = none. */
  breaker?: Partial<BreakerSettings> | false;
  /** Called once per failure (an `error` event of your own, a log line). */
  onError?: (operation: string, error: ZarrsCacheError) => void;
}

/**
 * A tier over a network with per-call timeouts and a circuit breaker: `guarded(myTier, { timeout: 500 })`.
 * A call slower than `timeout` rejects with TIMEOUT; after `breaker.failures` consecutive
 * TIMEOUT/TIER_UNAVAILABLE failures every call fails at once with TIER_UNAVAILABLE for
 * `breaker.cooldown` ms (a TieredCache then skips the tier and reads the next one). Other errors
 * from the tier pass through unchanged; foreign ones become IO_ERROR. Stats add `timeouts`,
 * `rejected`, `breakerOpens` and `breakerState` (0 closed, 2 open).
 */
export function guarded(tier: CacheTier, options: GuardedOptions = {}): CacheTier {
  assertTier(tier, "guarded(tier): the first argument must be a CacheTier");
  if (typeof options !== "object" || options === null)
    throw new ZarrsCacheError("INVALID_CONFIG", "guarded(tier, options): options must be an object");
  assertKnownOptions("guarded()", options, ["timeout", "breaker", "onError"]);
  configNumber("guarded()", "timeout", options.timeout, { min: 0, optional: true });
  const settings = options.breaker === false ? false : { failures: 5, cooldown: 1000, ...options.breaker };
  if (settings) {
    assertKnownOptions("guarded()", settings, ["failures", "cooldown"], "breaker.");
    configNumber("guarded()", "breaker.failures", settings.failures, { min: 1, integer: true });
    configNumber("guarded()", "breaker.cooldown", settings.cooldown, { min: 0 });
  }
  const label = `guarded tier "${tier.name}"`;
  const guard = new Guard({ label, timeout: options.timeout ?? 2000, breaker: settings, onError: options.onError });
  const run = <T>(operation: string, call: () => Promise<T>) => guard.run(operation, call);

  const wrapper: CacheTier = {
    name: tier.name,
    maxValueBytes: tier.maxValueBytes,
    get: (key: string, getOptions?: TierGetOptions) => run("get", () => tier.get(key, getOptions)),
    set: (key: string, value: Uint8Array, setOptions?: SetOptions) => run("set", () => tier.set(key, value, setOptions)),
    delete: (key: string) => run("delete", () => tier.delete(key)),
    has: (key: string) => run("has", () => tier.has(key)),
    clear: () => run("clear", () => tier.clear()),
    async *keys(prefix?: string) {
      const iterator = tier.keys(prefix)[Symbol.asyncIterator]();
      for (;;) {
        const next = await run("keys", () => iterator.next());
        if (next.done) return;
        yield next.value;
      }
    },
    stats(): TierStats {
      const c = guard.counters;
      const inner = tier.stats();
      const breaker = guard.breaker;
      return {
        ...inner,
        errors: inner.errors + c.errors + c.rejected,
        timeouts: c.timeouts,
        rejected: c.rejected,
        breakerOpens: breaker?.opens ?? 0,
        breakerState: BREAKER_STATE_GAUGE[breaker?.state ?? "closed"],
      };
    },
    async close() {
      guard.close();
      await tier.close();
    },
  };
  if (tier.getMany)
    wrapper.getMany = (keys: readonly string[]) => run("getMany", () => tier.getMany!(keys)) as Promise<(CacheEntry | undefined)[]>;
  if (tier.deletePrefix) wrapper.deletePrefix = (prefix: string) => run("deletePrefix", () => tier.deletePrefix!(prefix));
  forwardOptional(wrapper, tier, ["onEviction", "onInvalidation", "loadSettled", "open"]);
  return wrapper;
}
