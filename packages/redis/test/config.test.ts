import { createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { redis, RedisTier } from "@zarrs-cache/redis";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";

/** The INVALID_CONFIG message thrown by `fn`. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isZarrsCacheError(error, "INVALID_CONFIG"), `expected INVALID_CONFIG, got ${String(error)}`).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected an INVALID_CONFIG error, nothing was thrown");
}

describe("redis(): configuration errors name the option", () => {
  const cases: [string, unknown, RegExp][] = [
    ["options that are not an object", "redis://x", /options must be an object/],
    ["an unknown option (a typo)", { keyprefix: "zc:" }, /unknown option "keyprefix" — did you mean "keyPrefix"\?/],
    ["an empty keyPrefix", { keyPrefix: "" }, /"keyPrefix"/],
    ["a keyPrefix that is not a string", { keyPrefix: 42 }, /"keyPrefix"/],
    ["a URL with another scheme", { url: "http://127.0.0.1:6379" }, /"url"/],
    ["a URL that is not a string", { url: 6379 }, /"url"/],
    ["url together with client", { url: "redis://127.0.0.1", client: {} }, /"url" cannot be combined with "client"/],
    ["cluster together with url", { url: "redis://127.0.0.1", cluster: [7000] }, /"url" cannot be combined with "cluster"/],
    ["an empty cluster", { cluster: [] }, /"cluster"/],
    ["a bad cluster node", { cluster: [{ port: "7000" }] }, /"cluster"/],
    ["clusterOptions without cluster", { clusterOptions: {} }, /"clusterOptions"/],
    ["a client that is not ioredis", { client: { get() {} } }, /"client"/],
    ["connection with an ioredis keyPrefix", { connection: { keyPrefix: "x:" } }, /"connection.keyPrefix"/],
    ["a negative ttl", { ttl: -1 }, /"ttl"/],
    ["a zero commandTimeout", { commandTimeout: 0 }, /"commandTimeout"/],
    ["a NaN connectTimeout", { connectTimeout: Number.NaN }, /"connectTimeout"/],
    ["a fractional maxValueBytes", { maxValueBytes: 1.5 }, /"maxValueBytes"/],
    ["a non-boolean autoPipelining", { autoPipelining: "yes" }, /"autoPipelining"/],
    ["breaker failures of 0", { breaker: { failures: 0 } }, /"breaker.failures"/],
    ["an unknown breaker option", { breaker: { threshold: 3 } }, /"breaker.threshold"/],
    ["a breaker that is true", { breaker: true }, /"breaker"/],
    ["an empty bus channel", { bus: { channel: "" } }, /"bus.channel"/],
    ["a bus that is a string", { bus: "on" }, /"bus"/],
    ["a negative singleFlight wait", { singleFlight: { wait: -5 } }, /"singleFlight.wait"/],
    ["a singleFlight that is a number", { singleFlight: 1 }, /"singleFlight"/],
    ["a lockTtl Redis cannot expire", { singleFlight: { lockTtl: 1e300 } }, /"singleFlight.lockTtl" must be at most/],
    ["a repair that is not an object", { repair: true }, /"repair"/],
    ["an unknown repair option", { repair: { maxkeys: 5 } }, /"repair.maxkeys"/],
    ["a repair.maxKeys of 0", { repair: { maxKeys: 0 } }, /"repair.maxKeys"/],
    ["a fractional repair.maxKeys", { repair: { maxKeys: 2.5 } }, /"repair.maxKeys"/],
    ["a negative repair.retryInterval", { repair: { retryInterval: -1 } }, /"repair.retryInterval"/],
    ["an empty name", { name: "" }, /"name"/],
  ];
  for (const [what, options, message] of cases) {
    it(`rejects ${what}`, () => {
      expect(configError(() => redis(options as never))).toMatch(message);
    });
  }

  it("rejects a client configured with an ioredis keyPrefix", () => {
    const client = new Redis({ lazyConnect: true, keyPrefix: "other:" });
    try {
      expect(configError(() => redis({ client }))).toMatch(/"client".*keyPrefix/);
    } finally {
      client.disconnect();
    }
  });

  it("accepts a valid configuration without connecting first, even to an address nobody listens on", async () => {
    const tier = redis({ url: "redis://127.0.0.1:1", keyPrefix: "zc:test:", ttl: 1000, breaker: false, bus: false, singleFlight: true });
    expect(tier).toBeInstanceOf(RedisTier);
    expect(tier.name).toBe("redis");
    const cache = createCache().tier(tier).build();
    await cache.close();
  });
});
