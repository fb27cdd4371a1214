import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import KeyvRedis from "@keyv/redis";
import KeyvSqlite from "@keyv/sqlite";
import { isZarrsCacheError } from "@zarrs-cache/core";
import { KeyvTier, keyvTier } from "@zarrs-cache/keyv";
import Keyv from "keyv";
import { afterAll, describe, expect, it } from "vitest";
import { REDIS_PORT, redisReachable, uniqueNamespace, whenRedis } from "./redis-env.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-keyv-errors-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const reachable = await redisReachable();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The ZarrsCacheError `fn` throws (sync or async); fails the test if it throws nothing else. */
async function caught(fn: () => unknown): Promise<{ code: string; message: string; cause?: unknown }> {
  try {
    await fn();
  } catch (error) {
    expect(isZarrsCacheError(error), `expected a ZarrsCacheError, got ${String(error)}`).toBe(true);
    return error as { code: string; message: string; cause?: unknown };
  }
  throw new Error("expected an error");
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("bad input", () => {
  it("refuses what is not a Keyv instance with INVALID_CONFIG and an example", async () => {
    for (const bad of [undefined, null, 42, "redis://127.0.0.1", {}, new Map()]) {
      const error = await caught(() => keyvTier(bad as unknown as Keyv));
      expect(error.code).toBe("INVALID_CONFIG");
      expect(error.message).toContain("expected a Keyv 5 instance");
      expect(error.message).toContain("new Keyv(");
    }
    const adapter = new KeyvSqlite("sqlite://:memory:");
    const error = await caught(() => new KeyvTier(adapter as unknown as Keyv));
    expect(error.message).toMatch(/instance of KeyvSqlite; it looks like a store adapter/);
    await adapter.disconnect();
  });

  it("refuses a Keyv instance without a namespace (clear() would empty the whole store)", async () => {
    const error = await caught(() => keyvTier(new Keyv({ namespace: undefined })));
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.message).toMatch(/no namespace/);
  });

  it("names the bad option", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ timeout: -1 }, /"timeout"/],
      [{ retryAfter: Number.NaN }, /"retryAfter"/],
      [{ maxValueBytes: 1.5 }, /"maxValueBytes"/],
      [{ ttl: 0 }, /"ttl"/],
      [{ encoding: "hex" }, /"encoding"/],
      [{ name: "" }, /"name"/],
      [{ disconnectOnClose: "yes" }, /"disconnectOnClose"/],
      [{ timout: 100 }, /unknown option "timout" — did you mean "timeout"\?/],
      [{ bogus: true }, /unknown option "bogus" \(known: name, ttl/],
    ];
    for (const [options, pattern] of cases) {
      const error = await caught(() => keyvTier(new Keyv({ namespace: "zc" }), options));
      expect(error.code).toBe("INVALID_CONFIG");
      expect(error.message).toMatch(pattern);
    }
    expect((await caught(() => keyvTier(new Keyv({ namespace: "zc" }), "fast" as never))).code).toBe("INVALID_CONFIG");
  });

  it("reports a serializer that cannot even keep a string as INVALID_CONFIG on the first write", async () => {
    const keyv = new Keyv({ namespace: "zc", serialize: () => "{}", deserialize: (() => ({ value: 1 })) as never });
    const tier = keyvTier(keyv);
    expect((await caught(() => tier.set("k", Uint8Array.of(1)))).code).toBe("INVALID_CONFIG");
  });

  it("says clearly that a store without an iterator cannot list keys, and still gets and sets", async () => {
    const map = new Map<string, unknown>();
    // A minimal custom adapter (not a Map, no iterator): Keyv 5 gives it no iterator.
    const adapter = {
      get: async (k: string) => map.get(k),
      set: async (k: string, v: unknown) => void map.set(k, v),
      delete: async (k: string) => map.delete(k),
      clear: async () => map.clear(),
    };
    const tier = keyvTier(new Keyv({ store: adapter, namespace: "zc" }));
    await tier.set("k", Uint8Array.of(5));
    expect(Array.from((await tier.get("k"))!.value)).toEqual([5]);
    const error = await caught(async () => {
      for await (const _ of tier.keys()) void _;
    });
    expect(error.code).toBe("UNSUPPORTED");
    expect(error.message).toMatch(/cannot list its keys/);
  });
});

describe("store failures", () => {
  it("a broken sqlite file: IO_ERROR with the store's error as cause, counted", async () => {
    const file = path.join(dir, "not-a-database.sqlite");
    fs.writeFileSync(file, Buffer.alloc(4096, 0x41));
    const tier = keyvTier(new Keyv({ store: new KeyvSqlite(`sqlite://${file}`), namespace: "zc" }));
    const error = await caught(() => tier.get("k"));
    expect(error.code).toBe("IO_ERROR");
    expect(String((error.cause as Error).message)).toMatch(/SQLITE_NOTADB/);
    expect((await caught(() => tier.set("k", Uint8Array.of(1)))).code).toBe("IO_ERROR");
    expect(tier.stats().errors).toBe(2);
    await tier.close().catch(() => {});
  });

  it("a closed sqlite database: TIER_UNAVAILABLE, then fails fast for retryAfter", async () => {
    const keyv = new Keyv({ store: new KeyvSqlite(`sqlite://${path.join(dir, "closed.sqlite")}`), namespace: "zc" });
    const tier = keyvTier(keyv, { retryAfter: 60_000, disconnectOnClose: false });
    await tier.set("k", Uint8Array.of(1));
    await keyv.disconnect();
    const first = await caught(() => tier.get("k"));
    expect(first.code).toBe("TIER_UNAVAILABLE");
    expect(String((first.cause as Error).message)).toMatch(/closed/i);
    const second = await caught(() => tier.set("k", Uint8Array.of(2)));
    expect(second.code).toBe("TIER_UNAVAILABLE");
    expect(second.message).toMatch(/failed recently/);
    expect(tier.stats().errors).toBe(2);
  });

  it("an unreachable Redis: TIMEOUT within the limit, then fails fast; its error events never crash", async () => {
    const port = await closedPort();
    const keyv = new Keyv({ store: new KeyvRedis(`redis://127.0.0.1:${port}`), namespace: uniqueNamespace("down") });
    const tier = keyvTier(keyv, { timeout: 300, retryAfter: 60_000 });
    const started = Date.now();
    const first = await caught(() => tier.get("k"));
    expect(["TIMEOUT", "TIER_UNAVAILABLE"]).toContain(first.code);
    expect(Date.now() - started).toBeLessThan(2_000);
    const quick = Date.now();
    expect((await caught(() => tier.set("k", Uint8Array.of(1)))).code).toBe("TIER_UNAVAILABLE");
    expect(Date.now() - quick).toBeLessThan(50);
    const stats = tier.stats();
    expect(stats.errors).toBe(2);
    expect(stats.errorEvents).toBeGreaterThan(0);
    await tier.close();
  });

  it("counts 'error' events nobody else listens to, and unsubscribes on close", async () => {
    const keyv = new Keyv({ namespace: "zc" });
    const tier = keyvTier(keyv, { disconnectOnClose: false });
    expect(keyv.throwOnErrors).toBe(true);
    expect(() => keyv.emit("error", new Error("background failure"))).not.toThrow();
    expect(tier.stats().errorEvents).toBe(1);
    await tier.close();
    expect(keyv.listeners("error")).toHaveLength(0);
    expect(keyv.throwOnErrors).toBe(false);
    // The Keyv instance was not disconnected: it still works for its owner.
    await keyv.set("still", "open");
    expect(await keyv.get("still")).toBe("open");
    expect((await caught(() => tier.get("still"))).code).toBe("CLOSED");
  });
});

/** A TCP relay to the real Redis that the test can cut and restore, to lose the connection for real. */
async function startRelay(port = 0): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(REDIS_PORT, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => (socket === client ? upstream : client).destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

whenRedis(reachable, "Redis connection loss", () => {
  it("a lost connection is TIER_UNAVAILABLE (not a silent miss), and the tier recovers", async () => {
    let relay = await startRelay();
    const namespace = uniqueNamespace("loss");
    const tier = keyvTier(new Keyv({ store: new KeyvRedis(`redis://127.0.0.1:${relay.port}`), namespace }), {
      timeout: 1_000,
      retryAfter: 100,
    });
    try {
      await tier.set("k", Uint8Array.of(9));
      await relay.cut();
      const error = await caught(() => tier.get("k"));
      expect(["TIER_UNAVAILABLE", "TIMEOUT"]).toContain(error.code);
      expect(error.cause).toBeDefined();
      expect(tier.stats().errors).toBeGreaterThanOrEqual(1);

      relay = await startRelay(relay.port);
      let value: Uint8Array | undefined;
      for (const deadline = Date.now() + 8_000; value === undefined && Date.now() < deadline; ) {
        value = await tier.get("k").then(
          (entry) => entry?.value,
          () => undefined,
        );
        if (value === undefined) await sleep(100);
      }
      expect(Array.from(value ?? [])).toEqual([9]);
    } finally {
      await tier.close().catch(() => {});
      await relay.cut();
      // Remove this test's keys over a direct connection, whatever happened above.
      const cleaner = new Keyv({ store: new KeyvRedis(`redis://127.0.0.1:${REDIS_PORT}`), namespace });
      await cleaner.clear();
      await cleaner.disconnect();
    }
  });
});
