import { createCache, isZarrsCacheError, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { cacheExtension, withCache } from "@zarrs-cache/zarrita";
import { afterEach, describe, expect, it } from "vitest";

let caches: TieredCache[] = [];
const newCache = () => {
  const cache = createCache()
    .tier(memory({ maxBytes: 1 << 20 }))
    .build();
  caches.push(cache);
  return cache;
};
afterEach(async () => {
  for (const cache of caches) await cache.close();
  caches = [];
});

const store = () => ({
  url: "https://example.com/data.zarr",
  get: async (_key: string) => new Uint8Array([1, 2, 3, 4]),
  getRange: async (_key: string, _range: unknown) => new Uint8Array([1]),
});

/** The error `fn` throws: its code and message, or a note that it was untyped or missing. */
function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isZarrsCacheError(error)) return { code: error.code, message: error.message };
    return { code: `not typed: ${String(error)}`, message: "" };
  }
  return { code: "no error", message: "" };
}

describe("withCache and cacheExtension options", () => {
  it("refuse unknown option names, with a did-you-mean", () => {
    const cache = newCache();
    const typo = thrown(() => withCache(store(), cache, { namspace: "x" } as never));
    expect(typo.code).toBe("INVALID_CONFIG");
    expect(typo.message).toContain('withCache(): unknown option "namspace" — did you mean "namespace"?');
    expect(thrown(() => withCache(store(), cache, { Copy: false } as never)).message).toContain('did you mean "copy"?');
    const far = thrown(() => withCache(store(), cache, { ttl: 5 } as never));
    expect(far.code).toBe("INVALID_CONFIG");
    expect(far.message).toContain('unknown option "ttl" (known: namespace, copy, coalesce, shouldCache, classify)');
    const extension = thrown(() => cacheExtension(store(), { cache, shouldcache: () => true } as never));
    expect(extension.code).toBe("INVALID_CONFIG");
    expect(extension.message).toContain('cacheExtension(): unknown option "shouldcache" — did you mean "shouldCache"?');
    expect(thrown(() => cacheExtension(store(), { cach: cache } as never)).message).toContain('did you mean "cache"?');
  });

  it("refuse every bad value with INVALID_CONFIG naming the option", () => {
    const cache = newCache();
    const noUrl = { get: async () => undefined };
    const builtWith = "must be a cache built with createCache()...build(), got";
    const cases: [() => unknown, string][] = [
      [() => withCache(store(), cache, { namespace: 5 } as never), 'option "namespace" must be a non-empty string, got number 5'],
      [() => withCache(store(), cache, { namespace: "" }), 'withCache(): option "namespace" must be a non-empty string'],
      [() => withCache(store(), cache, { copy: "yes" } as never), 'withCache(): option "copy" must be true, false or "auto", got "yes"'],
      [
        () => withCache(store(), cache, { coalesce: true } as never),
        'withCache(): option "coalesce" must be false or an object like { gap: 32768 }, got boolean true',
      ],
      [
        () => withCache(store(), cache, { coalesce: { gap: -1 } }),
        'withCache(): option "coalesce.gap" must be a non-negative integer, got number -1',
      ],
      [
        () => withCache(store(), cache, { coalesce: { maxBytes: 0 } }),
        'withCache(): option "coalesce.maxBytes" must be a positive integer, got number 0',
      ],
      [() => withCache(store(), cache, { coalesce: { gapp: 1 } } as never), 'unknown option "gapp" — did you mean "gap"?'],
      [() => withCache(store(), cache, { shouldCache: true } as never), 'withCache(): option "shouldCache" must be a function'],
      [() => withCache(store(), cache, { classify: "chunk" } as never), 'withCache(): option "classify" must be a function'],
      [() => withCache(store(), cache, null as never), "withCache(): options must be an object"],
      [() => withCache(store(), cache, "era5" as never), "withCache(): options must be an object"],
      [() => withCache(store(), cache, [] as never), "withCache(): options must be an object"],
      [() => withCache(store(), {} as never), `withCache(store, cache): cache ${builtWith} an instance of Object`],
      [() => withCache(noUrl, cache), 'withCache(): this store has no URL to identify it; pass option "namespace"'],
      [() => cacheExtension(store(), undefined as never), "cacheExtension(): options must be an object like { cache }"],
      [() => cacheExtension(store(), {} as never), `cacheExtension(): option "cache" ${builtWith} undefined`],
      [() => cacheExtension(store(), { cache: new Map() } as never), `option "cache" ${builtWith} an instance of Map`],
      [
        () => cacheExtension(store(), { cache, copy: 1 } as never),
        'cacheExtension(): option "copy" must be true, false or "auto", got number 1',
      ],
      [() => cacheExtension(noUrl, { cache }), 'cacheExtension(): this store has no URL to identify it; pass option "namespace"'],
    ];
    for (const [fn, message] of cases) {
      const error = thrown(fn);
      expect(error.code, message).toBe("INVALID_CONFIG");
      expect(error.message).toContain(message);
      expect(error.message).not.toContain("undefined undefined");
    }
    for (const fn of [() => withCache(null as never, cache), () => cacheExtension({} as never, { cache, namespace: "x" })]) {
      const error = thrown(fn);
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.message).toMatch(/^(withCache|cacheExtension)\(\): the store must be a zarrita store with a get\(key\) method, got /);
    }
  });

  it("reject a classify answer outside the TTL classes, naming the option", async () => {
    const cached = withCache(store(), newCache(), { classify: () => "forever" as never });
    const read = cached.get("/a/zarr.json");
    await expect(read).rejects.toSatisfy((e) => isZarrsCacheError(e, "INVALID_CONFIG"));
    const message = 'withCache(): option "classify" must return "metadata", "chunk" or "other" (for path "/a/zarr.json"), got "forever"';
    await expect(read).rejects.toThrow(message);
    const fine = withCache(store(), newCache(), { classify: () => "metadata" });
    expect(Array.from((await fine.get("/a/zarr.json"))!)).toEqual([1, 2, 3, 4]);
  });

  it("reject a bad range as a promise, never synchronously", async () => {
    const cached = withCache(store(), newCache());
    for (const range of [{ offset: -1, length: 4 }, { suffixLength: 1.5 }, null]) {
      const read = cached.getRange!("/a/c/0", range as never);
      await expect(read).rejects.toSatisfy((e) => isZarrsCacheError(e, "INVALID_ARGUMENT"));
    }
  });
});
