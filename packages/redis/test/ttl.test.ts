import { redis, type RedisTier } from "@zarrs-cache/redis";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { encodeEntry } from "../src/entry-format.js";
import { DELETE_IF_HEADER } from "../src/scripts.js";
import { SHARED_URL, describeRedis, removeKeys, testPrefix } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(options: Parameters<typeof redis>[0] = {}): { tier: RedisTier; raw: Redis; prefix: string } {
  const prefix = testPrefix("ttl");
  const tier = redis({ url: SHARED_URL, keyPrefix: prefix, bus: false, ...options });
  const raw = new Redis(SHARED_URL);
  cleanups.push(
    () => removeKeys(prefix),
    () => raw.disconnect(),
    () => tier.close(),
  );
  return { tier, raw, prefix };
}

describeRedis("TTLs: any positive finite number of milliseconds", { shared: true }, () => {
  it("rounds a fractional TTL up to whole milliseconds, in Redis and in the header", async () => {
    const { tier, raw, prefix } = setup();
    await tier.set("k", new Uint8Array([1]), { ttl: 1500.5 });
    const pttl = await raw.pttl(`${prefix}k`);
    expect(pttl).toBeGreaterThan(1000);
    expect(pttl).toBeLessThanOrEqual(1501);
    const entry = await tier.get("k");
    expect(Number.isInteger(entry?.expiresAt)).toBe(true);
    expect(entry!.expiresAt! - Date.now()).toBeLessThanOrEqual(1501);
  });

  it("keeps a TTL too long for Redis PX (1e300) in the header only", async () => {
    const { tier, raw, prefix } = setup();
    await tier.set("huge", new Uint8Array([2]), { ttl: 1e300 });
    expect(await raw.pttl(`${prefix}huge`)).toBe(-1); // no Redis expiry
    const entry = await tier.get("huge");
    expect(entry?.value[0]).toBe(2);
    expect(entry?.expiresAt).toBeGreaterThan(1e299);
    expect(tier.stats().errors).toBe(0);
  });

  it("applies a huge default ttl option the same way", async () => {
    const { tier, raw, prefix } = setup({ ttl: Number.MAX_VALUE });
    await tier.set("k", new Uint8Array([3]));
    expect(await raw.pttl(`${prefix}k`)).toBe(-1);
    expect((await tier.get("k"))?.value[0]).toBe(3);
  });

  it("reads an entry whose header expiry has passed as a miss and deletes it", async () => {
    const { tier, raw, prefix } = setup();
    // Written with no Redis expiry, as a header-only TTL is (or by a node whose clock runs ahead).
    await raw.set(`${prefix}old`, encodeEntry(new Uint8Array([4]), Date.now() - 1000));
    await raw.set(`${prefix}old2`, encodeEntry(new Uint8Array([5]), Date.now() - 1000));
    expect(await tier.get("old")).toBeUndefined();
    expect(await tier.getMany(["old2"])).toEqual([undefined]);
    const deadline = Date.now() + 2000;
    while ((await raw.exists(`${prefix}old`, `${prefix}old2`)) > 0 && Date.now() < deadline) await sleep(5);
    expect(await raw.exists(`${prefix}old`, `${prefix}old2`)).toBe(0);
  });

  it("the lazy delete removes only the entry it read: a newer value (another header) stays", async () => {
    const { tier, raw, prefix } = setup();
    const expired = encodeEntry(new Uint8Array([6]), Date.now() - 1000);
    const newer = encodeEntry(new Uint8Array([7]), Date.now() + 60_000);
    await raw.set(`${prefix}k`, newer);
    expect(await DELETE_IF_HEADER.run(tier.client, `${prefix}k`, expired.subarray(0, 10))).toBe(0);
    expect(await raw.exists(`${prefix}k`)).toBe(1);
    expect(await DELETE_IF_HEADER.run(tier.client, `${prefix}k`, newer.subarray(0, 10))).toBe(1);
    expect(await raw.exists(`${prefix}k`)).toBe(0);
  });
});
