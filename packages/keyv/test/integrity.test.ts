import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import KeyvRedis, { createClient } from "@keyv/redis";
import KeyvSqlite from "@keyv/sqlite";
import { keyvTier } from "@zarrs-cache/keyv";
import Keyv from "keyv";
import { afterAll, describe, expect, it } from "vitest";
import { REDIS_URL, redisReachable, uniqueNamespace, whenRedis } from "./redis-env.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-keyv-integrity-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const reachable = await redisReachable();

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

describe("foreign and corrupt entries (@keyv/sqlite)", () => {
  it("are misses counted as corruptions, never errors, and keys() skips them", async () => {
    const file = `sqlite://${path.join(dir, "foreign.sqlite")}`;
    const keyv = new Keyv({ store: new KeyvSqlite(file), namespace: "zc" });
    const tier = keyvTier(keyv);
    await tier.set("ours", Uint8Array.of(1, 2, 3));
    const ours = (await keyv.get("zc:ours")) as string;

    // Other writers of the same namespace, through the same Keyv instance.
    await keyv.set("zc:text", "hello world");
    await keyv.set("zc:number", 42);
    await keyv.set("zc:object", { a: 1 });
    await keyv.set("zc:uint8", Uint8Array.of(1, 2, 3));
    await keyv.set("zc:truncated", ours.slice(0, -4));
    await keyv.set("zc:stray-char", `${ours.slice(0, 30)}*${ours.slice(31)}`);
    const wrongLength = Buffer.from(ours, "base64");
    wrongLength.writeUInt32LE(99, 14);
    await keyv.set("zc:wrong-length", wrongLength.toString("base64"));
    // Rows Keyv itself cannot parse (raw Keyv.get would throw on the first).
    await (keyv.store as KeyvSqlite).set("zc:not-json", "{not json");
    await (keyv.store as KeyvSqlite).set("zc:json-null", "null");

    const foreign = ["text", "number", "object", "uint8", "truncated", "stray-char", "wrong-length", "not-json", "json-null"];
    for (const key of foreign) expect(await tier.get(key), key).toBeUndefined();
    for (const key of foreign) expect(await tier.has(key), key).toBe(false);

    const stats = tier.stats();
    expect(stats.corruptions).toBe(foreign.length);
    expect(stats.misses).toBe(foreign.length);
    expect(stats.errors).toBe(0);
    expect(await collect(tier.keys())).toEqual(["ours"]);
    expect(Array.from((await tier.get("ours"))!.value)).toEqual([1, 2, 3]);
    await tier.close();
  });

  it("keys() lists only this namespace, matched exactly (not sqlite's case-blind LIKE)", async () => {
    const file = `sqlite://${path.join(dir, "namespaces.sqlite")}`;
    const mine = new Keyv({ store: new KeyvSqlite(file), namespace: "zc" });
    const upper = new Keyv({ store: new KeyvSqlite(file), namespace: "ZC" });
    const other = new Keyv({ store: new KeyvSqlite(file), namespace: "zc2" });
    const tiers = [keyvTier(mine), keyvTier(upper), keyvTier(other)];
    for (const [i, tier] of tiers.entries()) await tier.set(`k${i}`, Uint8Array.of(i));
    expect(await collect(tiers[0]!.keys())).toEqual(["k0"]);
    expect(await collect(tiers[1]!.keys())).toEqual(["k1"]);
    expect(await collect(tiers[2]!.keys())).toEqual(["k2"]);
    for (const tier of tiers) await tier.close();
  });
});

whenRedis(reachable, "foreign Redis types", () => {
  it("a key of another Redis type in the namespace is a counted miss, not an error", async () => {
    const namespace = uniqueNamespace("wrongtype");
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const keyv = new Keyv({ store: new KeyvRedis(REDIS_URL), namespace });
    const tier = keyvTier(keyv);
    try {
      // @keyv/redis stores "<namespace>::<namespace>:<key>" for a Keyv with key prefixing.
      await client.hSet(`${namespace}::${namespace}:hash`, "field", "value");
      expect(await tier.get("hash")).toBeUndefined();
      expect(tier.stats()).toMatchObject({ corruptions: 1, misses: 1, errors: 0 });
      await tier.set("ours", Uint8Array.of(7));
      expect(await collect(tier.keys())).toEqual(["ours"]);
    } finally {
      await client.del([`${namespace}::${namespace}:hash`, `${namespace}::${namespace}:ours`]);
      await client.close();
      await tier.close();
    }
  });
});
