import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createCache, type TieredCache } from "@zarrs-cache/core";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier } from "@zarrs-cache/redis";
import { afterEach, expect, it } from "vitest";
import { describeRedis, startRedis } from "./helpers/redis-servers.js";
import { startProxy } from "./helpers/tcp-proxy.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const version = (n: number) => new Uint8Array(64).fill(n);
const SETTINGS = { keyPrefix: "holds:", commandTimeout: 400, connectTimeout: 300, breaker: { failures: 3, cooldown: 300 } };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describeRedis("holds: processes of one node share a disk directory, one of them cut off from Redis", { spawn: true }, () => {
  it("the sibling cannot copy Redis's older value into the shared disk; the writer never reads it back; the repair releases the hold", async () => {
    const server = await startRedis();
    cleanups.push(() => server.kill());
    const proxy = await startProxy(server.port);
    cleanups.push(() => proxy.close());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-holds-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const process = (url: string) => {
      const cache = createCache()
        .tier(memory({ maxBytes: 1 << 20 }))
        .tier(disk({ dir, maxBytes: 1 << 24 }))
        .tier(redis({ url, ...SETTINGS }))
        .build();
      cleanups.push(() => cache.close());
      return cache;
    };
    // The writer reaches Redis through the proxy, its sibling directly.
    const writer = process(proxy.url);
    const sibling = process(server.url);
    const writerRedis = writer.levels[2] as RedisTier;
    const sharedDisk = sibling.levels[1] as DiskTier;
    await waitFor(() => writerRedis.busSubscribed && (sibling.levels[2] as RedisTier).busSubscribed, 3000, "both subscriptions");
    const upstream = new Map([["k", version(1)]]);
    const read = async (cache: TieredCache) => (await cache.getOrLoad("k", async () => upstream.get("k")))?.[0];
    expect(await read(writer)).toBe(1);
    await writer.flush();

    proxy.cut("refuse");
    const result = await writer.write("k", version(2), () => void upstream.set("k", version(2)));
    expect(result.mayBeStale).toBe(true);
    expect(writer.stats().holds).toBe(1);

    // The sibling's resync (or an invalidation) clears the shared disk; it then reads Redis's v1.
    await sharedDisk.clear();
    expect(await read(sibling)).toBe(1);
    await sibling.flush();
    expect(await sharedDisk.get("k")).toBeUndefined();
    expect(sharedDisk.stats().fillsRefused).toBeGreaterThanOrEqual(1);
    // The writer's memory level lost the key: it reads v2, never the v1 its sibling saw.
    await writer.levels[0]!.clear();
    expect(await read(writer)).toBe(2);

    proxy.heal();
    await waitFor(() => writerRedis.stats().repairsPending === 0 && writer.stats().holds === 0, 10_000, "the repair and the release");
    // The repair's announcement dropped the sibling's copy; a load now fills the shared disk with v2.
    await waitFor(() => sibling.peek("k") === undefined, 5000, "the sibling's invalidation");
    expect(await read(sibling)).toBe(2);
    await sibling.flush();
    expect((await sharedDisk.get("k"))?.value[0]).toBe(2);
  });
});
