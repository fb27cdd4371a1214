// TTL classes, their defaults, per-call TTLs and "never expire" (`false`), through every tier.
import { readFileSync } from "node:fs";
import { type CacheEntry, DEFAULT_TTL, createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";
import { bytes, gatedLoader, sleep, twoLevelCaches } from "./helpers.js";

const MiB = 1024 * 1024;
const twoLevels = twoLevelCaches();

/** The entry's remaining lifetime in ms (undefined: no expiry), read without counting through the tier. */
async function lifetime(entry: Promise<CacheEntry | undefined> | CacheEntry | undefined): Promise<number | undefined> {
  const e = await entry;
  if (e === undefined) throw new Error("no entry");
  return e.expiresAt === undefined ? undefined : e.expiresAt - Date.now();
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

describe("TTL class defaults", () => {
  it("are what DEFAULT_TTL says: metadata and absent 10 min, chunk and other no expiry, in every tier", async () => {
    expect(DEFAULT_TTL).toEqual({ metadata: 600_000, chunk: false, other: false, absent: 600_000 });
    const { cache, l1, l2 } = twoLevels();
    await cache.getOrLoad("m", async () => bytes(1), { kind: "metadata" });
    await cache.getOrLoad("c", async () => bytes(1), { kind: "chunk" });
    await cache.getOrLoad("o", async () => bytes(1));
    await cache.getOrLoad("a", async () => undefined);
    await cache.flush();
    for (const tier of [l1, l2]) {
      expect(await lifetime(tier.get("m"))).toBeGreaterThan(590_000);
      expect(await lifetime(tier.get("m"))).toBeLessThanOrEqual(600_000);
      expect(await lifetime(tier.get("c"))).toBeUndefined();
      expect(await lifetime(tier.get("o"))).toBeUndefined();
      expect(await lifetime(tier.get("a"))).toBeGreaterThan(590_000);
    }
  });

  it("agree with the core README's table", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const row = (name: string) => readme.match(new RegExp(`^\\| \`ttl\\.${name}\` \\| ([^|]+) \\|`, "m"))?.[1]?.trim();
    const documented = (ttl: number | false) =>
      ttl === false ? "`false` (no expiry)" : `${ttl.toLocaleString("en").replace(/,/g, " ")} ms`;
    for (const name of ["metadata", "chunk", "other", "absent"] as const) expect(row(name)).toBe(documented(DEFAULT_TTL[name]));
  });

  it("an omitted (or undefined) class keeps its default; false means no expiry", async () => {
    const { cache, l1 } = twoLevels({ ttl: { metadata: undefined, chunk: 5000, absent: false } });
    await cache.getOrLoad("m", async () => bytes(1), { kind: "metadata" });
    await cache.getOrLoad("c", async () => bytes(1), { kind: "chunk" });
    await cache.getOrLoad("a", async () => undefined);
    expect(await lifetime(l1.get("m"))).toBeGreaterThan(590_000);
    expect(await lifetime(l1.get("c"))).toBeLessThanOrEqual(5000);
    expect(await lifetime(l1.get("a"))).toBeUndefined();

    const never = twoLevels({ ttl: { metadata: false } });
    await never.cache.getOrLoad("m", async () => bytes(1), { kind: "metadata" });
    expect(await lifetime(never.l1.get("m"))).toBeUndefined();
  });
});

describe("per-call ttl", () => {
  it("overrides the kind's class for the value, in every tier", async () => {
    const { cache, l1, l2 } = twoLevels();
    await cache.getOrLoad("c", async () => bytes(1), { kind: "chunk", ttl: 2000 });
    await cache.getOrLoad("m", async () => bytes(1), { kind: "metadata", ttl: false });
    await cache.flush();
    for (const tier of [l1, l2]) {
      expect(await lifetime(tier.get("c"))).toBeGreaterThan(1000);
      expect(await lifetime(tier.get("c"))).toBeLessThanOrEqual(2000);
      expect(await lifetime(tier.get("m"))).toBeUndefined();
    }
  });

  it("an absent answer lives the shorter of the call's ttl and the absent class", async () => {
    const { cache, l1 } = twoLevels({ ttl: { absent: 60_000 } });
    await cache.getOrLoad("short", async () => undefined, { ttl: 1000 });
    await cache.getOrLoad("long", async () => undefined, { ttl: 3_600_000 });
    await cache.getOrLoad("never", async () => undefined, { ttl: false });
    expect(await lifetime(l1.get("short"))).toBeLessThanOrEqual(1000);
    expect(await lifetime(l1.get("long"))).toBeGreaterThan(50_000);
    expect(await lifetime(l1.get("long"))).toBeLessThanOrEqual(60_000);
    expect(await lifetime(l1.get("never"))).toBeGreaterThan(50_000);
  });

  it("expires: the next read after the ttl loads again", async () => {
    const { cache } = twoLevels();
    let calls = 0;
    const load = async () => (calls++, bytes(calls));
    await cache.getOrLoad("k", load, { ttl: 40 });
    await cache.getOrLoad("k", load, { ttl: 40 });
    expect(calls).toBe(1);
    await sleep(80);
    expect((await cache.getOrLoad("k", load, { ttl: 40 }))?.[0]).toBe(2);
  });

  it("is set by the caller that starts a load; callers that join share it", async () => {
    const { cache, l1 } = twoLevels();
    const { load, release } = gatedLoader(bytes(1));
    const first = cache.getOrLoad("k", load, { ttl: 1000 });
    const joined = cache.getOrLoad("k", load, { ttl: false });
    release();
    await Promise.all([first, joined]);
    expect(cache.stats().joins).toBe(1);
    expect(await lifetime(l1.get("k"))).toBeLessThanOrEqual(1000);
  });

  it("works on load() and write() too", async () => {
    const { cache, l1 } = twoLevels();
    await cache.load("l", async () => bytes(1), { ttl: 1500 });
    expect(await lifetime(l1.get("l"))).toBeLessThanOrEqual(1500);
    const store = new Map<string, Uint8Array>();
    await cache.write("w", bytes(2), () => void store.set("w", bytes(2)), { kind: "metadata", ttl: false });
    expect(await lifetime(l1.get("w"))).toBeUndefined();
    await cache.write("w2", bytes(2), () => void store.set("w2", bytes(2)), { ttl: 2500 });
    expect(await lifetime(l1.get("w2"))).toBeLessThanOrEqual(2500);
  });

  it("a backfill carries the remaining TTL, not a fresh one", async () => {
    const { cache, l1, l2 } = twoLevels();
    let calls = 0;
    const load = async () => (calls++, bytes(9));
    await cache.getOrLoad("k", load, { kind: "chunk", ttl: 300 });
    await cache.flush();
    const lowerExpiry = (await l2.get("k"))!.expiresAt!;
    await sleep(150);
    await l1.delete("k");
    // The lower tier answers; the upper one is filled with what is left of the 300 ms.
    expect((await cache.getOrLoad("k", load, { ttl: 300 }))?.[0]).toBe(9);
    expect(calls).toBe(1);
    expect(cache.stats().backfills).toBe(1);
    const upperExpiry = (await l1.get("k"))!.expiresAt!;
    expect(Math.abs(upperExpiry - lowerExpiry)).toBeLessThanOrEqual(5);
    await sleep(Math.max(0, lowerExpiry - Date.now()) + 20);
    expect(cache.peek("k")).toBeUndefined();
    await cache.getOrLoad("k", load);
    expect(calls).toBe(2);
  });
});

describe("bad TTLs are refused, naming the option", () => {
  it("in createCache()", async () => {
    const build = (ttl: unknown) =>
      codeOf(() =>
        createCache({ ttl: ttl as never })
          .tier(memory({ maxBytes: MiB }))
          .build(),
      );
    for (const value of [0, Number.POSITIVE_INFINITY, null]) {
      expect(await build({ chunk: value })).toMatch(
        /^INVALID_CONFIG: createCache\(\): option "ttl\.chunk" must be a positive number of ms, or false for no expiry, got .* \(ambiguous: use false for no expiry/,
      );
    }
    for (const value of [-1, Number.NaN, "60s", true])
      expect(await build({ metadata: value })).toMatch(/^INVALID_CONFIG: .*"ttl\.metadata" must be/);
    expect(await build({ absent: false })).toBe("no error");
  });

  it("per call, also when L1 already holds the key", async () => {
    const { cache } = twoLevels();
    await cache.getOrLoad("k", async () => bytes(1));
    for (const ttl of [0, Number.POSITIVE_INFINITY, null, -5, "1h", true]) {
      expect(await codeOf(() => cache.getOrLoad("k", async () => bytes(1), { ttl: ttl as never }))).toMatch(
        /^INVALID_ARGUMENT: getOrLoad\(\): option "ttl" must be a positive number of ms, or false for no expiry/,
      );
    }
    expect(await codeOf(() => cache.load("x", async () => bytes(1), { ttl: 0 }))).toMatch(/^INVALID_ARGUMENT: load\(\): option "ttl"/);
    expect(await codeOf(() => cache.write("x", bytes(1), () => {}, { ttl: Number.POSITIVE_INFINITY }))).toMatch(
      /^INVALID_ARGUMENT: write\(\): option "ttl".*ambiguous/,
    );
    expect(await codeOf(() => cache.getOrLoad("k", async () => bytes(1), { tll: 5 } as never))).toMatch(
      /^INVALID_ARGUMENT: getOrLoad\(\): unknown option "tll" — did you mean "ttl"/,
    );
  });
});
