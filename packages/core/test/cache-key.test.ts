import { describe, expect, it } from "vitest";
import { CACHE_KEY_FORMAT, CacheKeys, cacheKey, isZarrsCacheError, parseCacheKey, type KeyRange } from "../src/index.js";
import { seededRandom } from "../src/testing.js";

/** The key format before `zc1`: `namespace:path`, ranges as `\0offset+length` or `\0-suffix`. */
function oldFormatKey(namespace: string, path: string, range?: KeyRange): string {
  if (range === undefined) return `${namespace}:${path}`;
  const spec = "suffixLength" in range ? `-${range.suffixLength}` : `${range.offset}+${range.length}`;
  return `${namespace}:${path}\u0000${spec}`;
}

/** What a tier that stores keys as UTF-8 text (Redis, Keyv) reads back. */
const throughUtf8 = (key: string) => Buffer.from(key, "utf8").toString("utf8");

// Characters that matter to the encoding (its separators, escapes and range syntax) and a few that do not.
const ALPHABET = ["a", "b", "/", ":", "|", "%", "\u0000", "r", "n", "c", "u", "D", "8", "0", "1", "+", "-", "z"];
ALPHABET.push("\ud800", "\udc00", "é", "😀", "%3A", "%u");

function randomString(next: () => number, maxParts: number): string {
  let s = "";
  const parts = Math.floor(next() * (maxParts + 1));
  for (let i = 0; i < parts; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

function randomRange(next: () => number): KeyRange | undefined {
  const pick = next();
  if (pick < 0.4) return undefined;
  if (pick < 0.6) return { suffixLength: Math.floor(next() * 20) };
  return { offset: Math.floor(next() * 20), length: Math.floor(next() * 20) };
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return isZarrsCacheError(error) ? error.code : `not typed: ${String(error)}`;
  }
  return "no error";
};

describe("cache keys", () => {
  it("keeps namespace and path apart where `namespace:path` ran them together", () => {
    // Pairs that were one key under `namespace:path`.
    const collided: [string, string, string, string][] = [
      ["a", "/b:/c", "a:/b", "/c"],
      ["https://example.com/x.zarr", "/y:/z", "https://example.com/x.zarr:/y", "/z"],
      ["https", "//example.com:/zarr.json", "https://example.com", "/zarr.json"],
    ];
    // Pairs that would collide under a careless new format (separators or escapes in the namespace).
    const tricky: [string, string, string, string][] = [
      ["a|b", "/c", "a", "b|/c"],
      ["a%7Cb", "/c", "a|b", "/c"],
      ["a", "|/c", "a|", "/c"],
    ];
    for (const [ns1, p1, ns2, p2] of collided) expect(oldFormatKey(ns1, p1)).toBe(oldFormatKey(ns2, p2));
    for (const [ns1, p1, ns2, p2] of [...collided, ...tricky]) {
      expect(cacheKey(ns1, p1), `${ns1} + ${p1}`).not.toBe(cacheKey(ns2, p2));
      expect(cacheKey(ns1, p1).startsWith(new CacheKeys(ns2).prefix)).toBe(false);
      expect(cacheKey(ns2, p2).startsWith(new CacheKeys(ns1).prefix)).toBe(false);
    }
  });

  it("never confuses a path holding NUL with another path's byte range", () => {
    const keys = new CacheKeys("ns");
    // Under the old format these were one key: the path "/a\0" + "0+2" and bytes 0..2 of "/a".
    expect(oldFormatKey("ns", "/a\u00000+2")).toBe(oldFormatKey("ns", "/a", { offset: 0, length: 2 }));
    for (const tail of ["0+2", "r0+2", "\u0000r0+2", "-4", "r-4", "n", "c"]) {
      const whole = keys.whole(`/a\u0000${tail}`);
      expect(whole).not.toBe(keys.range("/a", { offset: 0, length: 2 }));
      expect(whole).not.toBe(keys.range("/a", { suffixLength: 4 }));
      expect(whole.startsWith(keys.rangePrefix("/a"))).toBe(false);
      expect(keys.parse(whole)).toEqual({ path: `/a\u0000${tail}` });
    }
    // The range keys of "/a\0" are not those of "/a" either.
    expect(keys.range("/a\u0000", { offset: 0, length: 2 }).startsWith(keys.rangePrefix("/a"))).toBe(false);
    expect(keys.range("/a", { offset: 0, length: 2 }).startsWith(keys.rangePrefix("/a\u0000"))).toBe(false);
  });

  it("keeps paths with lone surrogates apart in tiers that store UTF-8", () => {
    const a = cacheKey("ns", "/x\ud800");
    const b = cacheKey("ns", "/x\ud801");
    const c = cacheKey("n\udfff", "/x");
    expect(throughUtf8("/x\ud800")).toBe(throughUtf8("/x\ud801")); // what went wrong before
    for (const key of [a, b, c]) expect(throughUtf8(key)).toBe(key);
    expect(a).not.toBe(b);
    expect(parseCacheKey(a)?.path).toBe("/x\ud800");
    expect(parseCacheKey(c)?.namespace).toBe("n\udfff");
    // A well-formed pair (an emoji) is kept as it is.
    expect(cacheKey("ns", "/😀")).toBe(`${new CacheKeys("ns").prefix}/😀`);
  });

  it("writes the exact format documented, with the version first", () => {
    const keys = new CacheKeys("https://example.com/data.zarr");
    expect(keys.prefix).toBe("zc1|https%3A//example.com/data.zarr|");
    expect(keys.whole("/temperature/c/0/0")).toBe("zc1|https%3A//example.com/data.zarr|/temperature/c/0/0");
    const shard = "zc1|https%3A//example.com/data.zarr|/wind/c/0/0/0";
    expect(keys.range("/wind/c/0/0/0", { offset: 1024, length: 4096 })).toBe(`${shard}\u0000r1024+4096`);
    expect(keys.range("/wind/c/0/0/0", { suffixLength: 1040 })).toBe("zc1|https%3A//example.com/data.zarr|/wind/c/0/0/0\u0000r-1040");
    expect(keys.rangePrefix("/wind/c/0/0/0")).toBe("zc1|https%3A//example.com/data.zarr|/wind/c/0/0/0\u0000r");
    expect(cacheKey("a%b|c\u0001", "/p:q\u0000\udc00")).toBe("zc1|a%25b%7Cc%01|/p\u0000cq\u0000n\u0000uDC00");
    expect(CACHE_KEY_FORMAT).toBe("zc1");
  });

  it("round-trips through parse, and parses nothing it would not build", () => {
    const keys = new CacheKeys("ns:1");
    for (const [path, range] of [
      ["/a/c/0/0", undefined],
      ["/a/c/0/0", { offset: 0, length: 0 }],
      ["/a/c/0/0", { suffixLength: 64 }],
      ["", undefined],
      ["/:\u0000|%\ud800", { offset: 9007199254740991, length: 1 }],
    ] as [string, KeyRange | undefined][]) {
      const key = range === undefined ? keys.whole(path) : keys.range(path, range);
      expect(keys.parse(key)).toEqual(range === undefined ? { path } : { path, range });
      expect(parseCacheKey(key)).toEqual(range === undefined ? { namespace: "ns:1", path } : { namespace: "ns:1", path, range });
    }
    const p = keys.prefix;
    for (const bad of [
      `${p}/a\u0000r01+2`, // leading zero
      `${p}/a\u0000r1+`,
      `${p}/a\u0000r-`,
      `${p}/a\u0000x`, // an escape we never write
      `${p}/a\u0000u0041`, // an escape of a character we never escape
      `${p}/a\u0000uD83D\u0000uDE00`, // a well-formed pair, which we keep as it is
      `${p}/a:b`, // a raw colon
      "zc1|ns%3a1|/a", // lower-case escape
      "zc2|ns%3A1|/a",
      "ns:1:/a",
      "zc1|ns",
    ]) {
      expect(keys.parse(bad), JSON.stringify(bad)).toBeUndefined();
      expect(parseCacheKey(bad), JSON.stringify(bad)).toBeUndefined();
    }
    expect(new CacheKeys("other").parse(keys.whole("/a"))).toBeUndefined();
  });

  it("never builds a key of the old format, so old entries are never served", () => {
    const next = seededRandom(20261201);
    for (let i = 0; i < 3000; i++) {
      const namespace = randomString(next, 6) || "n";
      const path = `/${randomString(next, 6)}`;
      const range = randomRange(next);
      const key = cacheKey(namespace, path, range);
      // Every old key had a ":" between namespace and path; no new key holds one.
      expect(oldFormatKey(namespace, path, range)).toContain(":");
      expect(key).not.toContain(":");
      expect(key.startsWith(`${CACHE_KEY_FORMAT}|`)).toBe(true);
    }
    // Old keys whose namespace imitates the new format are still not new keys.
    const imitation = oldFormatKey("zc1|a|/b", "/c");
    expect(parseCacheKey(imitation)).toBeUndefined();
  });

  it("holds its properties over random namespaces, paths and ranges (seeded)", () => {
    for (const seed of [1, 2, 3]) {
      const next = seededRandom(seed);
      const namespaces = Array.from({ length: 12 }, () => randomString(next, 5));
      const paths = Array.from({ length: 40 }, () => randomString(next, 6));
      const byKey = new Map<string, string>();
      const entries: { namespace: string; path: string; range?: KeyRange; key: string }[] = [];
      for (const namespace of namespaces) {
        const keys = new CacheKeys(namespace);
        for (const path of paths) {
          for (const range of [undefined, randomRange(next), { suffixLength: 3 }]) {
            const key = range === undefined ? keys.whole(path) : keys.range(path, range);
            const identity = JSON.stringify([namespace, path, range ?? null]);
            // Injective: a key belongs to exactly one (namespace, path, range).
            const previous = byKey.get(key);
            if (previous !== undefined) expect(previous, `seed ${seed}: ${JSON.stringify(key)}`).toBe(identity);
            byKey.set(key, identity);
            entries.push({ namespace, path, range, key });
            expect(throughUtf8(key)).toBe(key);
            expect(parseCacheKey(key)).toEqual(range === undefined ? { namespace, path } : { namespace, path, range });
          }
        }
      }
      // The prefixes select exactly their own keys.
      const wrong: string[] = [];
      for (let i = 0; i < 60; i++) {
        const probe = entries[Math.floor(next() * entries.length)]!;
        const keys = new CacheKeys(probe.namespace);
        const rangePrefix = keys.rangePrefix(probe.path);
        for (const e of entries) {
          const sameNamespace = e.namespace === probe.namespace;
          const show = JSON.stringify(e.key);
          if (e.key.startsWith(keys.prefix) !== sameNamespace) wrong.push(`prefix of ${JSON.stringify(probe.namespace)} vs ${show}`);
          const ownRange = sameNamespace && e.path === probe.path && e.range !== undefined;
          if (e.key.startsWith(rangePrefix) !== ownRange) wrong.push(`rangePrefix of ${JSON.stringify(probe.path)} vs ${show}`);
        }
      }
      expect(wrong, `seed ${seed}`).toEqual([]);
    }
  });

  it("keeps a plain path as it is (the L1 hit path only concatenates)", () => {
    const keys = new CacheKeys("s3://bucket/data.zarr");
    for (const path of ["/zarr.json", "/temperature/c/0/1", "/a b/.zarray", "/%20/x", "/r|n/c"]) {
      expect(keys.whole(path)).toBe(keys.prefix + path);
    }
  });

  it("refuses bad ranges, paths and namespaces with typed errors", () => {
    const keys = new CacheKeys("ns");
    const bad = [{ offset: -1, length: 2 }, { offset: 0.5, length: 2 }, { offset: 0, length: Number.NaN }, { suffixLength: -3 }, {}, null];
    for (const range of bad) {
      expect(
        codeOf(() => keys.range("/a", range as never)),
        JSON.stringify(range),
      ).toBe("INVALID_ARGUMENT");
    }
    expect(codeOf(() => keys.range("/a", { offset: 2 ** 53, length: 1 }))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => keys.whole(undefined as never))).toBe("INVALID_KEY");
    expect(codeOf(() => keys.rangePrefix(7 as never))).toBe("INVALID_KEY");
    expect(codeOf(() => new CacheKeys(undefined as never))).toBe("INVALID_ARGUMENT");
  });
});
