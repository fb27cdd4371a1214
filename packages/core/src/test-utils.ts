/**
 * Helpers shared by the tests of every package and by the bench, without vitest (so a plain
 * Node script can use them): `import { testBytes, forwardingTier } from "@zarrs-cache/core/test-utils"`.
 * The conformance suite, which needs vitest, is `@zarrs-cache/core/testing`.
 */
import { forwardOptional, type OptionalTierMethod } from "./tier-kit/forward.js";
import type { CacheTier } from "./types.js";

/** Deterministic pseudo-random bytes (xorshift32): incompressible test data for any tier. */
export function testBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A seeded generator of numbers in [0, 1) (mulberry32), so a failing randomized test can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A loader that answers `value` only once `release()` is called, and says whether it started:
 * for tests that hold a load in flight while something else (a write, an invalidation) happens.
 */
export function gatedLoader(value: Uint8Array): { load: () => Promise<Uint8Array>; release: () => void; started: () => boolean } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started = false;
  return {
    load: async () => {
      started = true;
      await gate;
      return value;
    },
    release: () => release(),
    started: () => started,
  };
}

/**
 * A tier that forwards the required methods to `inner`, replaced by `overrides` where given
 * (a failing get, a gated set…), plus the optional methods named in `optional` when `inner` has
 * them. Tests build slow, flaky or stripped-down tiers with it:
 * `forwardingTier(inner, { name: "flaky", get: async () => { throw new Error("down") } })`.
 */
export function forwardingTier(
  inner: CacheTier,
  overrides: Partial<CacheTier> = {},
  optional: readonly OptionalTierMethod[] = [],
): CacheTier {
  const tier: CacheTier = {
    name: inner.name,
    get: (key, options) => (options === undefined ? inner.get(key) : inner.get(key, options)),
    set: (key, value, options) => inner.set(key, value, options),
    delete: (key) => inner.delete(key),
    has: (key) => inner.has(key),
    clear: () => inner.clear(),
    keys: (prefix) => inner.keys(prefix),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
  forwardOptional(tier, inner, optional);
  return Object.assign(tier, overrides);
}

/**
 * The Redis the tests and the bench use: 127.0.0.1, port 6379 unless the one environment
 * variable ZC_TEST_REDIS_PORT says otherwise.
 */
export const TEST_REDIS_PORT = Number(
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.ZC_TEST_REDIS_PORT ?? 6379,
);
export const TEST_REDIS_URL = `redis://127.0.0.1:${TEST_REDIS_PORT}`;

/** True when a Redis server answers PING on 127.0.0.1:`port` within `timeout` ms (Node only). */
export async function redisReachable(port = TEST_REDIS_PORT, timeout = 1000): Promise<boolean> {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeout, () => done(false));
    socket.on("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}
