import { forwardingTier } from "@zarrs-cache/core/test-utils";
import { type CacheEntry, type CacheTier, type TierGetOptions, type TieredCache, createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach } from "vitest";

export const bytes = (...values: number[]) => new Uint8Array(values);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Call at the top of a test file: returns a maker of caches over two memory tiers ("l1" 4 MiB
 * over "l2" 16 MiB), each closed after the test that made it.
 */
export function twoLevelCaches() {
  let open: TieredCache[] = [];
  afterEach(async () => {
    for (const cache of open) await cache.close().catch(() => {});
    open = [];
  });
  return (options?: Parameters<typeof createCache>[0]) => {
    const l1 = memory({ maxBytes: 4 * 1024 * 1024, name: "l1" });
    const l2 = memory({ maxBytes: 16 * 1024 * 1024, name: "l2" });
    const cache = createCache(options).tier(l1).tier(l2).build();
    open.push(cache);
    return { cache, l1, l2 };
  };
}

export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A loader that never settles and records the signal it got. */
export function hungLoader() {
  const seen: { calls: number; signals: AbortSignal[] } = { calls: 0, signals: [] };
  const load = (signal: AbortSignal) => {
    seen.calls++;
    seen.signals.push(signal);
    return new Promise<Uint8Array | undefined>(() => {});
  };
  return { load, seen };
}

/** A loader that answers `value` once released, counting calls and keeping each call's signal. */
export function gatedLoader(value: Uint8Array | undefined) {
  const gate = deferred();
  const seen: { calls: number; signals: AbortSignal[] } = { calls: 0, signals: [] };
  const load = async (signal: AbortSignal) => {
    seen.calls++;
    seen.signals.push(signal);
    await gate.promise;
    return value;
  };
  return { load, seen, release: () => gate.resolve() };
}

export type Outcome = "failed" | "aborted" | "uncached";

/**
 * Wraps a tier: records `loadSettled` calls and loading gets; `gets` and `sets` can be held at a
 * gate, and `set`/`delete` made to fail.
 */
export function instrumented(inner: CacheTier, name = `spy(${inner.name})`) {
  const control = {
    settled: [] as [string, Outcome][],
    loadingGets: [] as string[],
    getGate: undefined as Promise<void> | undefined,
    setGate: undefined as Promise<void> | undefined,
    failSets: false,
    failDeletes: false,
    throwInSettled: false,
  };
  const tier = forwardingTier(inner, {
    name,
    get: async (key: string, options?: TierGetOptions): Promise<CacheEntry | undefined> => {
      if (options?.load !== false) control.loadingGets.push(key);
      const entry = await inner.get(key);
      if (control.getGate) await control.getGate;
      return entry;
    },
    set: async (key, value, options) => {
      if (control.setGate) await control.setGate;
      if (control.failSets) throw new Error(`${name} set failed`);
      return inner.set(key, value, options);
    },
    delete: async (key) => {
      if (control.failDeletes) throw new Error(`${name} delete failed`);
      return inner.delete(key);
    },
    loadSettled(key, outcome) {
      control.settled.push([key, outcome]);
      if (control.throwInSettled) throw new Error("loadSettled must not break a read");
    },
  });
  return { tier, control };
}
