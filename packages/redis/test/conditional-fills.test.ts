import { createCache, type TieredCache, type TieredCacheOptions } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier } from "@zarrs-cache/redis";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gatedLoader } from "@zarrs-cache/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { SHARED_URL, describeRedis, removeKeys, testPrefix } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (...values: number[]) => new Uint8Array(values);

const open: TieredCache[] = [];
const prefixes: string[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
  for (const prefix of prefixes.splice(0)) await removeKeys(prefix);
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function namespace(): string {
  const prefix = testPrefix("fills");
  prefixes.push(prefix);
  return prefix;
}

/**
 * A node: memory over Redis. `deaf`: it listens on a channel nobody writes to, so it never hears
 * the other node's invalidations (a message lost or still on its way when the fill lands).
 */
function node(keyPrefix: string, { deaf = false, cache = {} }: { deaf?: boolean; cache?: TieredCacheOptions } = {}): TieredCache {
  const tier = redis({ url: SHARED_URL, keyPrefix, bus: deaf ? { channel: `${keyPrefix}nobody` } : true });
  const built = createCache(cache)
    .tier(memory({ maxBytes: 1 << 20 }))
    .tier(tier)
    .build();
  open.push(built);
  return built;
}

function redisOf(cache: TieredCache): RedisTier {
  return cache.levels[cache.levels.length - 1] as RedisTier;
}

async function waitFor(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(2);
  }
}

/**
 * Waits until a node joined the bus: its joining resyncs (which drop its upper tiers and detach
 * its loads) are behind it.
 */
async function joined(cache: TieredCache): Promise<TieredCache> {
  await waitFor(() => redisOf(cache).busSubscribed);
  await sleep(20);
  return cache;
}

/** What a node that never read the key gets: the shared copy, or a fresh load. */
async function freshRead(prefix: string, key: string): Promise<number | undefined> {
  const reader = node(prefix);
  return (await reader.getOrLoad(key, async () => bytes(99)))?.[0];
}

describeRedis("conditional fills across nodes", { shared: true }, () => {
  it("a slow load on one node does not overwrite another node's write in Redis", async () => {
    const prefix = namespace();
    const slow = await joined(node(prefix, { deaf: true }));
    const writer = await joined(node(prefix));
    const loader = gatedLoader(bytes(1));
    const read = slow.getOrLoad("k", loader.load);
    await waitFor(loader.started);
    await sleep(2);
    await writer.write("k", bytes(2), () => undefined);
    loader.release();
    expect((await read)?.[0]).toBe(1); // its caller gets what it loaded…
    await sleep(50); // …but its fill of Redis must not land
    expect((await redisOf(writer).get("k", { load: false }))?.value[0]).toBe(2);
    expect(await freshRead(prefix, "k")).toBe(2);
    expect(redisOf(slow).stats().fillsRefused).toBeGreaterThanOrEqual(1);
  });

  it("a write-around delete and an invalidate(prefix) on one node refuse the other's older fills", async () => {
    const prefix = namespace();
    const slow = await joined(node(prefix, { deaf: true }));
    const writer = await joined(node(prefix, { cache: { writePolicy: "write-around" } }));
    await writer.set("a/k", bytes(1));
    await writer.set("b/k", bytes(1));
    // The slow node's loads begin before the changes (its L1 and Redis are bypassed by fresh keys).
    const deleted = gatedLoader(bytes(1));
    const underPrefix = gatedLoader(bytes(1));
    const readDeleted = slow.getOrLoad("a/new", deleted.load);
    const readPrefixed = slow.getOrLoad("b/new", underPrefix.load);
    await waitFor(() => deleted.started() && underPrefix.started());
    await sleep(2);
    await writer.write("a/new", bytes(2), () => undefined); // write-around: deletes, leaves a tombstone
    await writer.invalidate("b/");
    deleted.release();
    underPrefix.release();
    await Promise.all([readDeleted, readPrefixed]);
    await sleep(50);
    expect(await redisOf(writer).get("a/new", { load: false })).toBeUndefined();
    expect(await redisOf(writer).get("b/new", { load: false })).toBeUndefined();
    // The next reader loads the new upstream value (99 here) rather than the slow node's old one.
    expect(await freshRead(prefix, "a/new")).toBe(99);
    expect(await freshRead(prefix, "b/new")).toBe(99);
    expect(redisOf(slow).stats().fillsRefused).toBe(2);
  });

  it("refuses a fill that began before a delete even once the tombstone expired", async () => {
    const prefix = namespace();
    const tier = redis({ url: SHARED_URL, keyPrefix: prefix, tombstoneTtl: 200, bus: false });
    try {
      const started = Date.now();
      await sleep(2);
      await tier.delete("k");
      await sleep(300); // the tombstone expired in Redis
      await tier.set("k", bytes(1), { fill: true, loadStartedAt: started });
      expect(await tier.get("k")).toBeUndefined();
      expect(tier.stats().fillsRefused).toBe(1);
    } finally {
      await tier.close();
    }
  });
});

describeRedis("a restarted node and its persistent tier above Redis", { shared: true }, () => {
  function diskNode(dir: string, keyPrefix: string): TieredCache {
    const cache = createCache()
      .tier(memory({ maxBytes: 1 << 20 }))
      .tier(disk({ dir, maxBytes: 1 << 24 }))
      .tier(redis({ url: SHARED_URL, keyPrefix }))
      .build();
    open.push(cache);
    return cache;
  }

  it("drops what its disk level kept from before it joined the bus: reads the newer value after a restart", async () => {
    const prefix = namespace();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-fills-restart-"));
    dirs.push(dir);
    const first = await joined(diskNode(dir, prefix));
    await first.write("k", bytes(1), () => undefined);
    expect((await first.levels[1]!.get("k"))?.value[0]).toBe(1);
    await first.close(); // the node is down…
    open.splice(open.indexOf(first), 1);

    const other = await joined(node(prefix));
    await other.write("k", bytes(2), () => undefined); // …while another node writes (its message reaches nobody)

    const restarted = diskNode(dir, prefix);
    const tier = redisOf(restarted);
    await waitFor(() => tier.stats().resyncs > 0);
    expect((await restarted.getOrLoad("k", async () => bytes(99)))?.[0]).toBe(2);
    await waitFor(() => tier.busSubscribed);
    expect((await restarted.getOrLoad("k", async () => bytes(99)))?.[0]).toBe(2);
  });

  it("the first subscription of a tier with no listener yet still resyncs once it has one", async () => {
    const prefix = namespace();
    const tier = redis({ url: SHARED_URL, keyPrefix: prefix });
    const messages: string[] = [];
    tier.onInvalidation((message) => messages.push(message.kind));
    try {
      await waitFor(() => tier.busSubscribed);
      // One for joining (the listener), one for the first subscription (messages before it were missed).
      await waitFor(() => messages.length >= 2);
      expect(messages.every((kind) => kind === "all")).toBe(true);
    } finally {
      await tier.close();
    }
  });
});

describe("tombstone option checks", () => {
  it("refuses a bad tombstoneTtl with INVALID_CONFIG naming it", () => {
    for (const bad of [0, -1, 1.5, "60000", Number.NaN]) {
      expect(() => redis({ tombstoneTtl: bad as number })).toThrow(/tombstoneTtl/);
    }
  });
});
