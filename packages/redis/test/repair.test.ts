import { createCache, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier } from "@zarrs-cache/redis";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { StaleRecord, commonPrefix } from "../src/stale-record.js";
import { describeRedis, startRedis, type RedisProcess } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("StaleRecord: what a node remembers of its failed writes", () => {
  it("covers recorded keys and every key under a recorded prefix", () => {
    const record = new StaleRecord(10);
    record.addKey("a/c/0");
    record.addPrefix("b/");
    expect(record.covers("a/c/0")).toBe(true);
    expect(record.covers("a/c/1")).toBe(false);
    expect(record.covers("b/anything")).toBe(true);
    expect(record.size).toBe(2);
  });

  it("past maxKeys collapses the keys into their longest common prefix", () => {
    const record = new StaleRecord(3);
    for (const key of ["era5/t2m/c/0/0", "era5/t2m/c/0/1", "era5/t2m/c/1/0"]) record.addKey(key);
    expect(record.coarsened).toBe(0);
    record.addKey("era5/t2m/c/2/0");
    expect(record.coarsened).toBe(1);
    expect(record.snapshot()).toEqual({ keys: [], prefixes: [["era5/t2m/c/", expect.any(Number)]] });
    expect(record.covers("era5/t2m/c/9/9")).toBe(true);
    expect(record.covers("era5/u10/c/0/0")).toBe(false);
    // Keys under the prefix are not recorded one by one again.
    record.addKey("era5/t2m/c/3/0");
    expect(record.size).toBe(1);
  });

  it("keys with nothing in common collapse into the whole namespace; too many prefixes collapse too", () => {
    const record = new StaleRecord(1);
    record.addKey("a");
    record.addKey("b");
    expect(record.covers("anything")).toBe(true);
    // At most 16 prefixes: the 17th collapses them all into what they share.
    const prefixes = new StaleRecord(100);
    for (let i = 0; i < 16; i++) prefixes.addPrefix(`ds/${i}/`);
    expect(prefixes.size).toBe(16);
    prefixes.addPrefix("ds/x/");
    expect(prefixes.snapshot().prefixes.map(([prefix]) => prefix)).toEqual(["ds/"]);
    expect(prefixes.covers("ds/anything")).toBe(true);
    expect(prefixes.covers("other")).toBe(false);
    expect(prefixes.coarsened).toBe(1);
  });

  it("a prefix swallows the keys and longer prefixes it covers", () => {
    const record = new StaleRecord(10);
    record.addKey("arr/c/0");
    record.addPrefix("arr/c/1/");
    record.addKey("other");
    record.addPrefix("arr/");
    expect(record.snapshot().keys.map(([key]) => key)).toEqual(["other"]);
    expect(record.snapshot().prefixes.map(([prefix]) => prefix)).toEqual(["arr/"]);
  });

  it("forgets what a repair fixed, but not what was recorded again while it ran", () => {
    const record = new StaleRecord(10);
    record.addKey("k");
    record.addKey("j");
    record.addPrefix("p/");
    const snapshot = record.snapshot();
    // A write fails again during the repair: for "j" directly, for "p/x" under the prefix.
    record.addKey("j");
    record.addKey("p/x");
    expect(record.forget(snapshot)).toBe(1);
    expect(record.covers("k")).toBe(false);
    expect(record.covers("j")).toBe(true);
    expect(record.covers("p/x")).toBe(true);
  });

  it("a common prefix never ends inside a surrogate pair (Redis would see a different byte string)", () => {
    expect(commonPrefix(["a\u{1F600}", "a\u{1F601}"])).toBe("a");
    expect(commonPrefix(["abc", "abd"])).toBe("ab");
    expect(commonPrefix(["x", "y"])).toBe("");
  });
});

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A server with an admin connection and a user "writer" whose permissions the test changes: Redis
 * refusing a command (NOPERM) stands in for a write that could not reach it, deterministically.
 */
async function serverWithWriter(denied: string[]): Promise<{ server: RedisProcess; admin: Redis; writerUrl: string }> {
  const server = await startRedis();
  cleanups.push(() => server.kill());
  const admin = new Redis(server.url);
  cleanups.push(() => admin.disconnect());
  await admin.call("ACL", "SETUSER", "writer", "on", ">secret", "~*", "&*", "+@all", ...denied.map((c) => `-${c}`));
  return { server, admin, writerUrl: `redis://writer:secret@127.0.0.1:${server.port}` };
}

function node(url: string, extra: Parameters<typeof redis>[0] = {}): TieredCache {
  const cache = createCache()
    .tier(memory({ maxBytes: 1 << 20 }))
    .tier(redis({ url, keyPrefix: "repair:", repair: { retryInterval: 50 }, ...extra }))
    .build();
  cleanups.push(() => cache.close());
  return cache;
}

describeRedis("repair of writes that did not reach Redis", { spawn: true }, () => {
  it("a key whose write Redis refused reads as a miss on that node (get, getMany, has) until it is repaired", async () => {
    const { server, admin, writerUrl } = await serverWithWriter(["set", "unlink"]);
    const a = node(writerUrl);
    const b = node(server.url);
    const tierA = a.levels[1] as RedisTier;
    await waitFor(() => tierA.busSubscribed && (b.levels[1] as RedisTier).busSubscribed, 3000, "the subscriptions");
    await b.set("k", new Uint8Array([1]));
    const events: string[] = [];
    tierA.events.on("repair", (event) => events.push(event.state));
    const ownDrops: string[] = [];
    tierA.events.on("invalidation", (event) => {
      if (event.source === "repair" && event.message.kind === "keys") ownDrops.push(...event.message.keys);
    });

    // A's write: SET refused, and the UNLINK that follows it too. Redis keeps v1.
    await a.set("k", new Uint8Array([2]));
    expect(await admin.exists("repair:k")).toBe(1);
    expect(tierA.stats().repairsPending).toBe(1);
    expect(events).toContain("pending");
    expect(await tierA.get("k")).toBeUndefined();
    expect(await tierA.getMany(["k"])).toEqual([undefined]);
    expect(await tierA.has("k")).toBe(false);
    expect(tierA.stats().repairMisses).toBe(3);
    // The repair keeps failing (UNLINK refused) and keeps being retried.
    await waitFor(() => tierA.stats().repairFailures >= 2, 3000, "repair retries");
    expect(tierA.stats().repairsPending).toBe(1);
    expect(b.peek("k")?.[0]).toBe(1);

    await admin.call("ACL", "SETUSER", "writer", "+set", "+unlink");
    await waitFor(() => tierA.stats().repairsPending === 0, 3000, "the repair");
    expect(events.at(-1)).toBe("repaired");
    expect(tierA.stats().repairsDone).toBe(1);
    // No value left in Redis: the repair leaves a tombstone (see "Conditional fills" in the README).
    expect(await admin.getrange("repair:k", 0, 0)).toBe("t");
    // A's own tiers above Redis drop the key too (a sibling process may have copied v1 into a shared disk level).
    expect(ownDrops).toEqual(["k"]);
    // Announced: B drops its L1 copy.
    await waitFor(() => b.peek("k") === undefined, 2000, "B to drop its copy");
  });

  it("a write whose invalidation could not be published is re-announced once publishing works", async () => {
    const { server, admin, writerUrl } = await serverWithWriter(["publish"]);
    const a = node(writerUrl);
    const b = node(server.url);
    const tierA = a.levels[1] as RedisTier;
    await waitFor(() => tierA.busSubscribed && (b.levels[1] as RedisTier).busSubscribed, 3000, "the subscriptions");
    await b.set("k", new Uint8Array([1]));

    await a.set("k", new Uint8Array([2]));
    // Redis took v2 but B was never told: it keeps v1 in L1, and A records the key.
    expect(tierA.stats().publishErrors).toBeGreaterThanOrEqual(1);
    expect(tierA.stats().repairsPending).toBe(1);
    await sleep(100);
    expect(b.peek("k")?.[0]).toBe(1);

    await admin.call("ACL", "SETUSER", "writer", "+publish");
    await waitFor(() => b.peek("k") === undefined, 3000, "B to drop its copy");
    expect(tierA.stats().repairsPending).toBe(0);
    // The repair deleted the shared copy too (simpler than knowing which part failed): B reloads.
    expect(await b.getOrLoad("k", async () => new Uint8Array([2]))).toEqual(new Uint8Array([2]));
  });

  it("a failed fill is not recorded: it holds nothing newer than what other nodes would load", async () => {
    const { writerUrl } = await serverWithWriter(["set"]);
    const tier = redis({ url: writerUrl, keyPrefix: "repair:" });
    cleanups.push(() => tier.close());
    await expect(tier.set("k", new Uint8Array([1]), { fill: true })).rejects.toThrow(/NOPERM|refused/);
    expect(tier.stats().repairsPending).toBe(0);
    await expect(tier.set("k", new Uint8Array([1]))).rejects.toThrow();
    expect(tier.stats().repairsPending).toBe(1);
  });
});
