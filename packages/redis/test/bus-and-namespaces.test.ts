import { createCache, type TieredCache, type TierInvalidation } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { redis, type RedisTier } from "@zarrs-cache/redis";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { SHARED_URL, describeRedis, removeKeys, testPrefix } from "./helpers/redis-servers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (...values: number[]) => new Uint8Array(values);

const open: TieredCache[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
  for (const prefix of prefixes.splice(0)) await removeKeys(prefix);
});

function node(keyPrefix: string, options: Parameters<typeof redis>[0] = {}): TieredCache {
  const cache = createCache()
    .tier(memory({ maxBytes: 1 << 20 }))
    .tier(redis({ url: SHARED_URL, keyPrefix, ...options }))
    .build();
  open.push(cache);
  return cache;
}

function redisTierOf(cache: TieredCache): RedisTier {
  return cache.levels[1] as RedisTier;
}

async function waitFor(condition: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(2);
  }
}

/** Two nodes of one namespace, both subscribed, each holding `keys` in L1. */
async function twoNodes(keys: string[], options: Parameters<typeof redis>[0] = {}) {
  const prefix = testPrefix("bus");
  prefixes.push(prefix);
  const a = node(prefix, options);
  const b = node(prefix, options);
  if (options.bus !== false) await waitFor(() => redisTierOf(a).busSubscribed && redisTierOf(b).busSubscribed);
  for (const key of keys) {
    await a.set(key, bytes(1));
    await b.get(key);
    expect(b.peek(key)?.[0]).toBe(1);
  }
  return { a, b, prefix };
}

describeRedis("invalidation bus (in one process, two nodes)", { shared: true }, () => {
  it("a set on one node drops the key from the other's memory tier", async () => {
    const { a, b } = await twoNodes(["k", "other"]);
    await a.set("k", bytes(2));
    await waitFor(() => b.peek("k") === undefined);
    expect(b.peek("other")?.[0]).toBe(1);
    expect((await b.get("k"))?.value[0]).toBe(2);
    // A never drops its own write: it ignores its own messages.
    expect(a.peek("k")?.[0]).toBe(2);
    expect(redisTierOf(b).stats().received).toBeGreaterThan(0);
  });

  it("a delete, an invalidate(prefix) and a clear reach the other node", async () => {
    const { a, b } = await twoNodes(["d", "arr/c/0", "arr/c/1", "meta/zarr.json", "keep"]);
    await a.delete("d");
    await waitFor(() => b.peek("d") === undefined);

    await a.invalidate("arr/");
    await waitFor(() => b.peek("arr/c/0") === undefined && b.peek("arr/c/1") === undefined);
    expect(b.peek("meta/zarr.json")?.[0]).toBe(1);

    await a.clear();
    await waitFor(() => b.peek("meta/zarr.json") === undefined && b.peek("keep") === undefined);
  });

  it("a fill (read-through) publishes no invalidation: other nodes keep their copies; writes still publish", async () => {
    const { a, b } = await twoNodes(["k"]);
    const published = redisTierOf(a).stats().published;
    const received = redisTierOf(b).stats().received;
    await redisTierOf(a).set("k", bytes(2), { fill: true });
    expect(redisTierOf(a).stats().published).toBe(published);
    // A write after it: once B has heard the write, it would have heard the fill before it.
    await a.set("marker", bytes(9));
    expect(redisTierOf(a).stats().published).toBe(published + 1);
    await waitFor(() => redisTierOf(b).stats().received > received);
    expect(redisTierOf(b).stats().received).toBe(received + 1);
    expect(b.peek("k")?.[0]).toBe(1);
  });

  it("an upstream load on one node does not mark another node's load of the same key stale", async () => {
    const { a, b } = await twoNodes([]);
    let started!: () => void;
    const loading = new Promise<void>((resolve) => (started = resolve));
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const slow = b.getOrLoad("x", async () => {
      started();
      await gate;
      return bytes(1);
    });
    await loading; // B has missed in Redis and is loading
    await a.getOrLoad("x", async () => bytes(1));
    await a.flush(); // A's fill has reached Redis
    const received = redisTierOf(b).stats().received;
    await a.set("marker", bytes(9));
    await waitFor(() => redisTierOf(b).stats().received > received);
    finish();
    expect((await slow)?.[0]).toBe(1);
    // B caches what it loaded: nothing told it the value had changed (it had not).
    expect(b.peek("x")?.[0]).toBe(1);
  });

  it("carries keys only, never values", async () => {
    const prefix = testPrefix("wire");
    prefixes.push(prefix);
    const spy = new Redis(SHARED_URL);
    const messages: string[] = [];
    try {
      await spy.subscribe(`zarrs-cache:invalidate:${prefix}`);
      spy.on("message", (_channel, message: string) => messages.push(message));
      const a = node(prefix);
      await a.set("chunk/0", new TextEncoder().encode("SECRET-PAYLOAD"));
      await waitFor(() => messages.length > 0);
      expect(messages.join("")).toContain("chunk/0");
      expect(messages.join("")).not.toContain("SECRET");
    } finally {
      spy.disconnect();
    }
  });

  it("batches the keys written in one turn of the event loop into one message", async () => {
    const { a, b } = await twoNodes([]);
    const before = redisTierOf(a).stats().published;
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.set(`batch/${i}`, bytes(i))));
    expect(redisTierOf(a).stats().published - before).toBeLessThan(10);
    await waitFor(() => redisTierOf(b).stats().received > 0);
  });

  it("with the bus disabled, nothing is published or received", async () => {
    const { a, b } = await twoNodes(["k"], { bus: false });
    await a.set("k", bytes(2));
    await sleep(100);
    expect(b.peek("k")?.[0]).toBe(1);
    expect(redisTierOf(a).stats().published).toBe(0);
    expect(redisTierOf(b).stats().received).toBe(0);
  });

  it("ignores messages of another namespace on a shared channel, and malformed messages", async () => {
    const channel = `zc-test-channel:${Math.random()}`;
    const prefix1 = testPrefix("ns1");
    const prefix2 = testPrefix("ns2");
    prefixes.push(prefix1, prefix2);
    const one = node(prefix1, { bus: { channel } });
    const two = node(prefix2, { bus: { channel } });
    const got: TierInvalidation[] = [];
    redisTierOf(two).onInvalidation((message) => got.push(message));
    await waitFor(() => redisTierOf(one).busSubscribed && redisTierOf(two).busSubscribed);
    const raw = new Redis(SHARED_URL);
    try {
      await raw.publish(channel, "not json");
      await raw.publish(channel, JSON.stringify({ hello: 1 }));
    } finally {
      raw.disconnect();
    }
    await one.set("k", bytes(1));
    await waitFor(() => redisTierOf(two).stats().badMessages === 2);
    await sleep(50);
    // Only the resyncs of joining the bus (a new listener, the first subscription): nothing from the other namespace.
    expect(got.filter((message) => message.kind !== "all")).toEqual([]);
  });
});

describeRedis("namespaces on one Redis", { shared: true }, () => {
  it("keeps datasets apart: same keys, different values; clear and invalidate touch only their own keys", async () => {
    const p1 = testPrefix("era5");
    const p2 = testPrefix("gfs");
    prefixes.push(p1, p2);
    const era5 = redis({ url: SHARED_URL, keyPrefix: p1 });
    const gfs = redis({ url: SHARED_URL, keyPrefix: p2 });
    const outsider = new Redis(SHARED_URL);
    const foreignKey = `${p2.slice(0, -1)}-not-ours`;
    try {
      await outsider.set(foreignKey, "someone else's data");
      for (const key of ["zarr.json", "t/c/0", "t/c/1"]) {
        await era5.set(key, bytes(1));
        await gfs.set(key, bytes(2));
      }
      expect((await era5.get("t/c/0"))?.value[0]).toBe(1);
      expect((await gfs.get("t/c/0"))?.value[0]).toBe(2);

      expect(await era5.deletePrefix("t/")).toBe(2);
      expect(await gfs.has("t/c/0")).toBe(true);

      await gfs.clear();
      expect(await era5.has("zarr.json")).toBe(true);
      expect(await outsider.get(foreignKey)).toBe("someone else's data");
      const left: string[] = [];
      for await (const key of gfs.keys()) left.push(key);
      expect(left).toEqual([]);
    } finally {
      await outsider.unlink(foreignKey);
      outsider.disconnect();
      await era5.close();
      await gfs.close();
    }
  });

  it("treats glob characters in prefixes literally", async () => {
    const base = testPrefix("glob");
    prefixes.push(base);
    const tier = redis({ url: SHARED_URL, keyPrefix: `${base}[a]*?:` });
    const sibling = redis({ url: SHARED_URL, keyPrefix: `${base}a-x:` });
    try {
      await tier.set("k*", bytes(1));
      await tier.set("k1", bytes(1));
      await sibling.set("k*", bytes(2));
      expect(await tier.deletePrefix("k*")).toBe(1);
      expect(await tier.has("k1")).toBe(true);
      await tier.clear();
      expect(await sibling.has("k*")).toBe(true);
    } finally {
      await tier.close();
      await sibling.close();
    }
  });

  it("treats a value it did not write as a miss and counts it", async () => {
    const prefix = testPrefix("foreign");
    prefixes.push(prefix);
    const tier = redis({ url: SHARED_URL, keyPrefix: prefix });
    const raw = new Redis(SHARED_URL);
    try {
      await raw.set(`${prefix}k`, "plain text");
      expect(await tier.get("k")).toBeUndefined();
      expect(tier.stats().corrupt).toBe(1);
    } finally {
      raw.disconnect();
      await tier.close();
    }
  });
});
