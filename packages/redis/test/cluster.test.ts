import { createCache } from "@zarrs-cache/core";
import { describeTierConformance } from "@zarrs-cache/core/testing";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier } from "@zarrs-cache/redis";
import { type Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEntry } from "../src/entry-format.js";
import { describeRedis, startCluster, testPrefix, type TestCluster } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let cluster: TestCluster;
let round = 0;

describeRedis("redis tier on a 3-master Redis Cluster", { spawn: true }, () => {
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const clusterTier = (options: Parameters<typeof redis>[0] = {}) =>
    redis({ cluster: cluster.startupNodes, keyPrefix: `${testPrefix("cluster")}${round++}:`, maxValueBytes: 2 * 1024 * 1024, ...options });

  describeTierConformance("redis (cluster)", {
    create: () => clusterTier(),
    exactSize: false,
    largeValueBytes: 1 << 20,
    oversizedValueBytes: 2 * 1024 * 1024 + 1,
    conditionalFills: true,
  });

  describe("cluster specifics", () => {
    it("spreads keys over all three masters, and lists, counts and deletes them on every master", async () => {
      const tier = clusterTier();
      try {
        const keys = Array.from({ length: 60 }, (_, i) => `arr/c/${i}`);
        await Promise.all(keys.map((key, i) => tier.set(key, new Uint8Array([i]))));
        await tier.set("other/zarr.json", new Uint8Array([1]));
        // Each master holds some of them (this is what makes SCAN-on-every-master necessary).
        const prefix = (tier as unknown as { prefix: string }).prefix;
        const perMaster = await Promise.all(
          (tier.client as Cluster).nodes("master").map(async (node) => (await node.keys(`${prefix}*`)).length),
        );
        expect(perMaster.filter((n) => n > 0)).toHaveLength(3);

        const listed: string[] = [];
        for await (const key of tier.keys("arr/")) listed.push(key);
        expect(listed.sort()).toEqual([...keys].sort());

        const many = await tier.getMany(["arr/c/3", "missing", "arr/c/59"]);
        expect(many.map((e) => e?.value[0])).toEqual([3, undefined, 59]);

        expect(await tier.deletePrefix("arr/")).toBe(60);
        const left: string[] = [];
        for await (const key of tier.keys()) left.push(key);
        expect(left).toEqual(["other/zarr.json"]);
      } finally {
        await tier.clear();
        await tier.close();
      }
    });

    it("takes and releases single-flight locks, and deletes expired entries, on whichever master owns the key (Lua)", async () => {
      const tier = clusterTier({ singleFlight: true });
      const client = tier.client as Cluster;
      const prefix = (tier as unknown as { prefix: string }).prefix;
      const keys = Array.from({ length: 12 }, (_, i) => `arr/c/${i}`);
      const locks = keys.map((key) => `zarrs-cache:lock:${prefix}${key}`);
      try {
        for (const key of keys) expect(await tier.get(key)).toBeUndefined();
        expect(tier.stats().locksTaken).toBe(keys.length);
        expect((await Promise.all(locks.map((lock) => client.exists(lock)))).every((n) => n === 1)).toBe(true);
        // Fresh servers: the first release of each master goes EVALSHA → NOSCRIPT → EVAL.
        for (const key of keys) await tier.set(key, new Uint8Array([1]), { fill: true });
        await waitFor(() => tier.stats().locksHeld === 0);
        for (let i = 0; i < 100; i++) {
          if ((await Promise.all(locks.map((lock) => client.exists(lock)))).every((n) => n === 0)) break;
          await sleep(10);
        }
        expect(await Promise.all(locks.map((lock) => client.exists(lock)))).toEqual(keys.map(() => 0));

        // A TTL too long for PX: no Redis expiry, and an expired header is deleted lazily.
        await tier.set("huge", new Uint8Array([2]), { ttl: 1e300 });
        expect(await client.pttl(`${prefix}huge`)).toBe(-1);
        await client.set(`${prefix}old`, encodeEntry(new Uint8Array([3]), Date.now() - 1000));
        expect(await tier.get("old", { load: false })).toBeUndefined();
        for (let i = 0; i < 100 && (await client.exists(`${prefix}old`)) === 1; i++) await sleep(10);
        expect(await client.exists(`${prefix}old`)).toBe(0);
        expect(tier.stats().errors).toBe(0);
      } finally {
        await tier.clear();
        await tier.close();
      }
    });

    it("carries invalidations between two nodes over cluster pub/sub", async () => {
      const keyPrefix = testPrefix("cluster-bus");
      const caches = [0, 1].map(() =>
        createCache()
          .tier(memory({ maxBytes: 1 << 20 }))
          .tier(redis({ cluster: cluster.startupNodes, keyPrefix }))
          .build(),
      );
      const [a, b] = caches as [(typeof caches)[0], (typeof caches)[0]];
      try {
        await waitFor(() => (b.levels[1] as RedisTier).busSubscribed);
        await a.set("k", new Uint8Array([1]));
        expect((await b.get("k"))?.value[0]).toBe(1);
        expect(b.peek("k")?.[0]).toBe(1);
        await a.set("k", new Uint8Array([2]));
        await waitFor(() => b.peek("k") === undefined);
        expect((await b.get("k"))?.value[0]).toBe(2);
      } finally {
        await a.clear();
        for (const cache of caches) await cache.close();
      }
    });

    it("repairs writes whose invalidation failed: one tombstone per key, on whichever master owns it", async () => {
      const admins = cluster.nodes.map((node) => new Redis(node.url));
      const setUser = (...rules: string[]) => Promise.all(admins.map((admin) => admin.call("ACL", "SETUSER", "writer", ...rules)));
      await setUser("on", ">secret", "~*", "&*", "+@all", "-publish");
      const tier = clusterTier({
        clusterOptions: { redisOptions: { username: "writer", password: "secret" } },
        repair: { retryInterval: 50 },
      });
      const prefix = (tier as unknown as { prefix: string }).prefix;
      try {
        const keys = Array.from({ length: 30 }, (_, i) => `arr/c/${i}`);
        // Redis takes the values, the invalidations are refused: every key is recorded.
        await Promise.all(keys.map((key, i) => tier.set(key, new Uint8Array([i]))));
        expect(tier.stats().repairsPending).toBe(keys.length);
        expect((await tier.getMany(keys)).every((entry) => entry === undefined)).toBe(true);

        await setUser("+publish");
        await waitFor(() => tier.stats().repairsPending === 0);
        expect(tier.stats().repairsDone).toBe(keys.length);
        // No value left on any master: each key is a tombstone now (see "Conditional fills" in the README).
        const heads = await Promise.all(
          admins.map(async (admin) => Promise.all((await admin.keys(`${prefix}*`)).map((key) => admin.getrange(key, 0, 0)))),
        );
        expect(heads.flat().filter((head) => head !== "t")).toEqual([]);
        expect(heads.flat()).toHaveLength(keys.length);
      } finally {
        await tier.close();
        await Promise.all(admins.map((admin) => admin.call("ACL", "DELUSER", "writer")));
        for (const admin of admins) admin.disconnect();
      }
    });
  });
});

async function waitFor(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(5);
  }
}
