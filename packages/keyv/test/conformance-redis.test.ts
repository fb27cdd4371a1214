import KeyvRedis, { createKeyv } from "@keyv/redis";
import { describeTierConformance } from "@zarrs-cache/core/testing";
import { keyvTier } from "@zarrs-cache/keyv";
import Keyv from "keyv";
import { afterAll, expect, it } from "vitest";
import { REDIS_URL, redisReachable, uniqueNamespace, whenRedis } from "./redis-env.js";

const reachable = await redisReachable();
const namespace = uniqueNamespace("conformance");

/** Counts the Redis keys of this run's namespace (SCAN through @keyv/redis, never KEYS or FLUSHDB). */
async function leftoverKeys(): Promise<number> {
  const keyv = new Keyv({ store: new KeyvRedis(REDIS_URL), namespace });
  let n = 0;
  for await (const _ of keyv.iterator!(namespace)) n++;
  await keyv.disconnect();
  return n;
}

whenRedis(reachable, "keyv tier conformance on @keyv/redis", () => {
  describeTierConformance("keyv + @keyv/redis", {
    create: () => keyvTier(new Keyv({ store: new KeyvRedis(REDIS_URL), namespace })),
    // Empty this run's namespace only (Keyv's clear() is SCAN MATCH namespace + UNLINK).
    cleanup: async () => {
      const keyv = new Keyv({ store: new KeyvRedis(REDIS_URL), namespace });
      await keyv.clear();
      await keyv.disconnect();
    },
    exactSize: false,
  });

  // @keyv/redis's own createKeyv(): no Keyv key prefix, the adapter writes "<namespace>::<key>".
  describeTierConformance("keyv + @keyv/redis createKeyv()", {
    create: () => keyvTier(createKeyv(REDIS_URL, { namespace })),
    cleanup: async () => {
      const keyv = createKeyv(REDIS_URL, { namespace });
      await keyv.clear();
      await keyv.disconnect();
    },
    exactSize: false,
  });

  it("leaves no keys behind in its namespace", async () => {
    expect(await leftoverKeys()).toBe(0);
  });
});

afterAll(async () => {
  if (reachable) expect(await leftoverKeys()).toBe(0);
});
