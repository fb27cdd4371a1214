import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import KeyvRedis, { createClient } from "@keyv/redis";
import KeyvSqlite from "@keyv/sqlite";
import { MAX_STORE_TTL, keyvTier } from "@zarrs-cache/keyv";
import Keyv from "keyv";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { REDIS_URL, redisReachable, uniqueNamespace, whenRedis } from "./redis-env.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-keyv-ttl-"));
let files = 0;
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());
const reachable = await redisReachable();

/** TTLs the CacheTier contract accepts (any positive finite ms) that stores may not. */
const FRACTIONAL = 1500.5;
const HUGE = 1e300;

function sqliteKeyv(): Keyv {
  return new Keyv({ store: new KeyvSqlite(`sqlite://${path.join(dir, `t${files++}.sqlite`)}`), namespace: "zc" });
}

/** Keyv's own row for `key`: the `expires` it will enforce, if any. */
async function keyvRow(keyv: Keyv, key: string): Promise<{ expires?: number } | undefined> {
  const text = await (keyv.store as KeyvSqlite).get(`zc:${key}`);
  return text === undefined ? undefined : (JSON.parse(text as string) as { expires?: number });
}

describe("TTLs on @keyv/sqlite", () => {
  it("gives Keyv whole milliseconds, and no store expiry past MAX_STORE_TTL", async () => {
    const keyv = sqliteKeyv();
    const tier = keyvTier(keyv);
    const before = Date.now();
    await tier.set("fraction", Uint8Array.of(1), { ttl: FRACTIONAL });
    await tier.set("huge", Uint8Array.of(2), { ttl: HUGE });
    const fraction = (await keyvRow(keyv, "fraction"))!;
    expect(Number.isInteger(fraction.expires)).toBe(true);
    expect(fraction.expires).toBeGreaterThanOrEqual(before + 1501);
    const entry = (await tier.get("fraction"))!;
    expect(Number.isInteger(entry.expiresAt)).toBe(true);
    expect(entry.expiresAt).toBeLessThanOrEqual(fraction.expires!);
    expect((await keyvRow(keyv, "huge"))!.expires).toBeUndefined();
    expect((await tier.get("huge"))!.expiresAt).toBeGreaterThanOrEqual(HUGE);
    await tier.close();
  });

  it("a TTL past MAX_STORE_TTL: the envelope alone expires it, and the read deletes the row", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const keyv = sqliteKeyv();
    const tier = keyvTier(keyv);
    await tier.set("long", Uint8Array.of(3), { ttl: MAX_STORE_TTL + 1 });
    expect((await keyvRow(keyv, "long"))!.expires).toBeUndefined();
    vi.advanceTimersByTime(MAX_STORE_TTL);
    expect(Array.from((await tier.get("long"))!.value)).toEqual([3]);
    vi.advanceTimersByTime(1);
    expect(await tier.get("long")).toBeUndefined();
    expect(tier.stats()).toMatchObject({ expired: 1, misses: 1, corruptions: 0, errors: 0 });
    expect(await keyvRow(keyv, "long")).toBeUndefined();
    await tier.close();
  });

  it("rounds a Keyv instance's own fractional default TTL too", async () => {
    const keyv = new Keyv({ store: new KeyvSqlite(`sqlite://${path.join(dir, `t${files++}.sqlite`)}`), namespace: "zc", ttl: 999.25 });
    const tier = keyvTier(keyv);
    await tier.set("k", Uint8Array.of(4));
    expect(Number.isInteger((await keyvRow(keyv, "k"))!.expires)).toBe(true);
    await tier.close();
  });
});

whenRedis(reachable, "TTLs on @keyv/redis", () => {
  it("stores values with fractional and huge TTLs that Redis would refuse as PX (PTTL checked)", async () => {
    const namespace = uniqueNamespace("ttl");
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const tier = keyvTier(new Keyv({ store: new KeyvRedis(REDIS_URL), namespace }));
    // @keyv/redis stores "<namespace>::<namespace>:<key>" for a Keyv with key prefixing.
    const redisKey = (key: string) => `${namespace}::${namespace}:${key}`;
    try {
      await tier.set("fraction", Uint8Array.of(1), { ttl: FRACTIONAL });
      const pttl = await client.pTTL(redisKey("fraction"));
      expect(pttl).toBeGreaterThan(1000);
      expect(pttl).toBeLessThanOrEqual(1501);
      expect(Array.from((await tier.get("fraction"))!.value)).toEqual([1]);

      await tier.set("month", Uint8Array.of(2), { ttl: 2 ** 31 + 0.5 }); // past setTimeout's range, still a store TTL
      expect(await client.pTTL(redisKey("month"))).toBeGreaterThan(2 ** 31 - 1000);

      await tier.set("huge", Uint8Array.of(3), { ttl: HUGE });
      expect(await client.pTTL(redisKey("huge"))).toBe(-1); // no store expiry: the envelope's governs
      const huge = (await tier.get("huge"))!;
      expect(Array.from(huge.value)).toEqual([3]);
      expect(huge.expiresAt).toBeGreaterThanOrEqual(HUGE);
      expect(tier.stats()).toMatchObject({ errors: 0, sets: 3 });
    } finally {
      await client.del(["fraction", "month", "huge"].map(redisKey));
      await client.close();
      await tier.close();
    }
  });

  it("deletes an entry whose envelope expired when it is read (no Redis expiry to do it)", async () => {
    const namespace = uniqueNamespace("ttl-lazy");
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const tier = keyvTier(new Keyv({ store: new KeyvRedis(REDIS_URL), namespace }));
    const redisKey = `${namespace}::${namespace}:long`;
    try {
      await tier.set("long", Uint8Array.of(4), { ttl: MAX_STORE_TTL + 1 });
      expect(await client.pTTL(redisKey)).toBe(-1);
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now() + MAX_STORE_TTL + 1000);
      expect(await tier.has("long")).toBe(false);
      expect(await client.exists(redisKey)).toBe(0);
    } finally {
      vi.useRealTimers();
      await client.del(redisKey);
      await client.close();
      await tier.close();
    }
  });
});
