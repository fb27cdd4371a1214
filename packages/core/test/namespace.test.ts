// namespace(cache, name): keys in core's zc1 encoding; invalidate/clear touch only the namespace.
import { type TieredCache, cacheKey, isZarrsCacheError, json, namespace } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";
import { bytes, twoLevelCaches } from "./helpers.js";

const twoLevels = twoLevelCaches();

async function allKeys(cache: TieredCache): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of cache.keys()) keys.push(key);
  return keys.sort();
}

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (isZarrsCacheError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

describe("namespace()", () => {
  it("caches under cacheKey(name, path), the key the zarrita adapter builds for a dataset namespace", async () => {
    const { cache } = twoLevels();
    const users = namespace(cache, "users");
    expect(users.key("42")).toBe("zc1|users|42");
    expect(users.key("a:b")).toBe(cacheKey("users", "a:b"));
    await users.getOrLoad("42", async () => bytes(4, 2));
    expect(await allKeys(cache)).toEqual(["zc1|users|42"]);
    expect(Array.from(cache.peek("zc1|users|42")!)).toEqual([4, 2]);
    expect(Array.from(users.peek("42")!)).toEqual([4, 2]);
    expect(users.path("zc1|users|42")).toBe("42");
    expect(users.path("zc1|orders|42")).toBeUndefined();
  });

  it("never mixes namespaces whose names hold the separators", async () => {
    const { cache } = twoLevels();
    // Unescaped, "a|b" + "c" and "a" + "b|c" would both be "zc1|a|b|c".
    const one = namespace(cache, "a|b");
    const two = namespace(cache, "a");
    await one.set("c", bytes(1));
    await two.set("b|c", bytes(2));
    expect(one.key("c")).not.toBe(two.key("b|c"));
    expect((await one.get("c"))!.value[0]).toBe(1);
    expect((await two.get("b|c"))!.value[0]).toBe(2);
  });

  it("invalidate(prefix) and clear() touch only the namespace", async () => {
    const { cache } = twoLevels();
    const users = namespace(cache, "users");
    const orders = namespace(cache, "orders");
    const usersX = namespace(cache, "users-x"); // shares a string prefix with "users"
    for (const path of ["eu/1", "eu/2", "us/1", "e:1"]) await users.set(path, bytes(1));
    await orders.set("eu/1", bytes(2));
    await usersX.set("eu/1", bytes(3));
    await cache.set("plain", bytes(4));

    expect(await users.invalidate("eu/")).toBe(2);
    expect(await users.has("eu/1")).toBe(false);
    expect(await users.has("us/1")).toBe(true);
    expect(await users.invalidate("e:")).toBe(1); // ":" is escaped in keys; the prefix is escaped alike
    expect(await orders.has("eu/1")).toBe(true);

    await users.clear();
    expect(await users.has("us/1")).toBe(false);
    expect(await allKeys(cache)).toEqual(["plain", "zc1|orders|eu/1", "zc1|users-x|eu/1"]);
  });

  it("paths() lists the namespace's whole-value paths", async () => {
    const { cache } = twoLevels();
    const ds = namespace(cache, "ds");
    await ds.set("/temp/zarr.json", bytes(1));
    await ds.set("/temp/c/0/0", bytes(2));
    await cache.set(cacheKey("ds", "/temp/c/0/0", { suffixLength: 16 }), bytes(3)); // a range read the adapter cached
    await namespace(cache, "other").set("/temp/zarr.json", bytes(4));
    const paths: string[] = [];
    for await (const path of ds.paths("/temp/")) paths.push(path);
    expect(paths.sort()).toEqual(["/temp/c/0/0", "/temp/zarr.json"]);
    // Invalidating a path also drops its range keys.
    expect(await ds.invalidate("/temp/c/")).toBe(2);
  });

  it("passes options and results through: ttl, kind, write(), hasEntry() for absents", async () => {
    const { cache, l1 } = twoLevels();
    const ns = namespace(cache, "n");
    await ns.getOrLoad("gone", async () => undefined);
    expect(await ns.has("gone")).toBe(false);
    expect(await ns.hasEntry("gone")).toBe(true);
    await ns.load("t", async () => bytes(1), { ttl: 1000 });
    expect((await l1.get("zc1|n|t"))!.expiresAt! - Date.now()).toBeLessThanOrEqual(1000);
    const result = await ns.write("w", bytes(9), () => {}, { ttl: false });
    expect(result).toMatchObject({ key: "zc1|n|w", action: "cached", ok: true });
    expect(await ns.delete("w")).toBe(true);
    expect(await json<number>(ns).getOrLoad("j", async () => 7)).toBe(7);
  });

  it("refuses bad input with clear errors", async () => {
    const { cache } = twoLevels();
    const ns = namespace(cache, "n");
    expect(await codeOf(() => namespace(cache, ""))).toBe(
      'INVALID_ARGUMENT: namespace(cache, name): name must be a non-empty string, got ""',
    );
    expect(await codeOf(() => namespace(cache, 5 as never))).toMatch(/^INVALID_ARGUMENT: .*name must be a non-empty string, got 5/);
    expect(await codeOf(() => namespace({} as never, "x"))).toMatch(
      /^INVALID_ARGUMENT: namespace\(cache, name\): cache must be a cache built with createCache/,
    );
    expect(await codeOf(() => namespace(ns as never, "child"))).toMatch(/already the namespace view "n"; .*namespace\(cache, "n\/child"\)/);
    expect(await codeOf(() => ns.getOrLoad("", async () => bytes(1)))).toMatch(/^INVALID_KEY: key must be a non-empty string/);
    expect(await codeOf(() => ns.set(7 as never, bytes(1)))).toMatch(/^INVALID_KEY/);
    expect(await codeOf(() => ns.invalidate(null as never))).toMatch(/^INVALID_ARGUMENT: invalidate\(prefix\): prefix must be a string/);
    expect(await codeOf(() => ns.invalidate("x\ud83d"))).toMatch(/^INVALID_ARGUMENT: .*surrogate pair/);
    expect(await codeOf(() => ns.getOrLoad("k", async () => bytes(1), { ttl: 0 }))).toMatch(
      /^INVALID_ARGUMENT: getOrLoad\(\): option "ttl"/,
    );
  });
});
