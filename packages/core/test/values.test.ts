// json() / text() / typed(): typed values over the byte tiers.
import { isZarrsCacheError, json, namespace, text, typed } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";
import { twoLevelCaches } from "./helpers.js";

const twoLevels = twoLevelCaches();

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (isZarrsCacheError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

interface User {
  id: number;
  name: string;
}

describe("json()", () => {
  it("loads once, stores UTF-8 JSON bytes in every tier, and hands each caller its own copy", async () => {
    const { cache, l1, l2 } = twoLevels();
    const users = json<User[]>(cache);
    let calls = 0;
    const load = async () => (calls++, [{ id: 1, name: "Ada" }]);
    const first = await users.getOrLoad("users", load);
    first![0]!.name = "mutated by the caller";
    expect(await users.getOrLoad("users", load)).toEqual([{ id: 1, name: "Ada" }]);
    expect(calls).toBe(1);
    await cache.flush();
    for (const tier of [l1, l2]) {
      const entry = await tier.get("users");
      expect(entry!.value).toBeInstanceOf(Uint8Array);
      expect(new TextDecoder().decode(entry!.value)).toBe('[{"id":1,"name":"Ada"}]');
    }
  });

  it("a miss returns what a later hit returns (values go through JSON both times)", async () => {
    const { cache } = twoLevels();
    const events = json<{ at: unknown }>(cache);
    const loaded = await events.getOrLoad("e", async () => ({ at: new Date(0) }));
    expect(loaded).toEqual({ at: "1970-01-01T00:00:00.000Z" });
    expect(await events.getOrLoad("e", async () => ({ at: "other" }))).toEqual(loaded);
  });

  it("caches an undefined answer as absent; get/set/has/delete work on values", async () => {
    const { cache } = twoLevels();
    const values = json<number[]>(cache);
    let calls = 0;
    expect(await values.getOrLoad("none", async () => (calls++, undefined))).toBeUndefined();
    expect(await values.getOrLoad("none", async () => (calls++, undefined))).toBeUndefined();
    expect(calls).toBe(1);
    expect(await values.has("none")).toBe(false);
    expect(await values.get("none")).toBeUndefined();

    await values.set("list", [1, 2, 3], { ttl: 60_000 });
    expect(await values.get("list")).toEqual([1, 2, 3]);
    expect(await values.has("list")).toBe(true);
    expect(await values.delete("list")).toBe(true);
    expect(await values.get("list")).toBeUndefined();
    // null, 0 and "" are JSON values (never empty bytes), so they are cached like any other.
    const any = json<unknown>(cache);
    for (const value of [null, 0, "", false]) {
      await any.set("v", value);
      expect(await any.get("v")).toBe(value);
    }
  });

  it("passes options through: per-call ttl, kind and signal", async () => {
    const { cache, l1 } = twoLevels();
    const values = json<number>(cache);
    await values.getOrLoad("t", async () => 1, { ttl: 1000, kind: "metadata" });
    const entry = await l1.get("t");
    expect(entry!.expiresAt! - Date.now()).toBeLessThanOrEqual(1000);
    const aborted = AbortSignal.abort(new Error("gave up"));
    await expect(values.getOrLoad("s", async () => 1, { signal: aborted })).rejects.toThrow("gave up");
    // The loader's signal is the load's, as with getOrLoad.
    let seen: AbortSignal | undefined;
    await values.getOrLoad("sig", async (signal) => ((seen = signal), 1));
    expect(seen).toBeInstanceOf(AbortSignal);
  });

  it("refuses bad input with clear errors", async () => {
    const { cache, l1 } = twoLevels();
    const values = json<unknown>(cache);
    expect(await codeOf(() => values.getOrLoad("big", async () => 10n))).toMatch(
      /^UPSTREAM_ERROR: the loader for big returned a value the json codec cannot encode: .*BigInt/,
    );
    expect(await codeOf(() => values.getOrLoad("fn", async () => () => 1))).toMatch(/^UPSTREAM_ERROR: .*cannot encode function/);
    expect(await codeOf(() => values.set("fn", () => 1))).toBe("INVALID_ARGUMENT: the json codec cannot encode function");
    expect(await codeOf(() => values.set("k", 1, { ttl: 0 }))).toMatch(/^INVALID_ARGUMENT: set\(\): option "ttl" must be .*ambiguous/);
    expect(await codeOf(() => values.set("k", 1, { tll: 5 } as never))).toBe('INVALID_ARGUMENT: set(): unknown option "tll" (known: ttl)');
    expect(await codeOf(() => values.getOrLoad("k", "load" as never))).toMatch(
      /^INVALID_ARGUMENT: getOrLoad\(key, loader\): loader must be a function/,
    );
    expect(await codeOf(() => json({} as never))).toMatch(/^INVALID_ARGUMENT: json\(cache\): cache must be a cache built with createCache/);
    // Bytes that are not JSON (written by something else under the same key).
    await l1.set("raw", new Uint8Array([0xff, 0xfe]));
    expect(await codeOf(() => values.get("raw"))).toMatch(/^CORRUPT_ENTRY: the value cached under "raw" is not json \(2 bytes\)/);
    await l1.set("notjson", new TextEncoder().encode("{oops"));
    expect(await codeOf(() => values.getOrLoad("notjson", async () => 1))).toMatch(/^CORRUPT_ENTRY: .*"notjson" is not json/);
  });
});

describe("text()", () => {
  it("stores UTF-8 strings; an empty string is returned but never cached", async () => {
    const { cache, l1 } = twoLevels();
    const pages = text(cache);
    expect(await pages.getOrLoad("p", async () => "héllo ✓")).toBe("héllo ✓");
    expect(Array.from((await l1.get("p"))!.value)).toEqual(Array.from(new TextEncoder().encode("héllo ✓")));
    let calls = 0;
    expect(await pages.getOrLoad("empty", async () => (calls++, ""))).toBe("");
    expect(await pages.getOrLoad("empty", async () => (calls++, ""))).toBe("");
    expect(calls).toBe(2);
    expect(await codeOf(() => pages.set("empty", ""))).toMatch(
      /^INVALID_ARGUMENT: set\("empty"\): the text codec encoded the value as no bytes/,
    );
    expect(await codeOf(() => pages.set("n", 5 as never))).toBe("INVALID_ARGUMENT: the text codec encodes strings, got 5");
    await l1.set("latin1", new Uint8Array([0xe9]));
    expect(await codeOf(() => pages.get("latin1"))).toMatch(/^CORRUPT_ENTRY: the value cached under "latin1" is not text/);
  });
});

describe("typed()", () => {
  it("takes any codec, and composes with namespace()", async () => {
    const { cache } = twoLevels();
    const numbers = typed(namespace(cache, "squares"), {
      name: "float64",
      encode: (n: number) => new Uint8Array(new Float64Array([n]).buffer),
      decode: (b: Uint8Array) => new Float64Array(b.slice().buffer)[0]!,
    });
    expect(await numbers.getOrLoad("3", async () => 9)).toBe(9);
    expect(await cache.has("zc1|squares|3")).toBe(true);
    expect(await codeOf(() => typed(cache, { encode: () => new Uint8Array(1) } as never))).toMatch(
      /^INVALID_ARGUMENT: typed\(cache, codec\): codec must be \{ name, encode\(value\), decode\(bytes\) \}/,
    );
    const broken = typed(cache, { name: "broken", encode: () => "nope" as never, decode: () => 1 });
    expect(await codeOf(() => broken.set("k", 1))).toBe('INVALID_ARGUMENT: the broken codec\'s encode() returned "nope", not a Uint8Array');
  });
});
