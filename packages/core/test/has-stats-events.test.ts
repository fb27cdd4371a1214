// has() vs hasEntry() for keys cached as "absent", hitRate in stats(), and on/once/off.
import { type CacheEvents, Emitter, isZarrsCacheError } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";
import { bytes, sleep, twoLevelCaches } from "./helpers.js";

const twoLevels = twoLevelCaches();

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isZarrsCacheError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

describe("has() and hasEntry()", () => {
  it("has() is false for a key cached as absent; hasEntry() is true", async () => {
    const { cache } = twoLevels();
    await cache.getOrLoad("gone", async () => undefined);
    await cache.getOrLoad("here", async () => bytes(1));
    expect(await cache.has("gone")).toBe(false);
    expect(await cache.hasEntry("gone")).toBe(true);
    expect(await cache.has("here")).toBe(true);
    expect(await cache.hasEntry("here")).toBe(true);
    expect(await cache.has("never")).toBe(false);
    expect(await cache.hasEntry("never")).toBe(false);
  });

  it("the first tier holding the key decides, as a read would; lower tiers count", async () => {
    const { cache, l1, l2 } = twoLevels();
    await l2.set("lower", bytes(5));
    expect(await cache.has("lower")).toBe(true);
    await l1.set("masked", new Uint8Array(0));
    await l2.set("masked", bytes(5));
    expect(await cache.has("masked")).toBe(false);
    expect(await cache.getOrLoad("masked", async () => bytes(6))).toBeUndefined();
  });

  it("counts no hit or miss of the cache, and loads nothing", async () => {
    const { cache } = twoLevels();
    await cache.getOrLoad("k", async () => bytes(1));
    const before = cache.stats();
    await cache.has("k");
    await cache.has("nope");
    await cache.hasEntry("k");
    const after = cache.stats();
    expect([after.hits, after.misses, after.loads]).toEqual([before.hits, before.misses, before.loads]);
  });

  it("an expired absent entry is neither", async () => {
    const { cache } = twoLevels({ ttl: { absent: 30 } });
    await cache.getOrLoad("gone", async () => undefined);
    await sleep(60);
    expect(await cache.hasEntry("gone")).toBe(false);
    expect(await cache.has("gone")).toBe(false);
  });

  it("refuses bad keys", async () => {
    const { cache } = twoLevels();
    await expect(cache.has("")).rejects.toMatchObject({ code: "INVALID_KEY" });
    await expect(cache.hasEntry(42 as never)).rejects.toMatchObject({ code: "INVALID_KEY" });
  });
});

describe("stats().hitRate", () => {
  it("is hits / (hits + misses), 0 before any read, cached absents counted as hits", async () => {
    const { cache, l1 } = twoLevels();
    expect(cache.stats().hitRate).toBe(0);
    await cache.getOrLoad("k", async () => bytes(1)); // miss
    await cache.getOrLoad("k", async () => bytes(1)); // L1 hit
    expect(cache.stats().hitRate).toBe(0.5);
    await cache.flush();
    await l1.delete("k");
    await cache.getOrLoad("k", async () => bytes(1)); // L2 hit
    await cache.getOrLoad("a", async () => undefined); // miss
    await cache.getOrLoad("a", async () => undefined); // absent hit
    const stats = cache.stats();
    expect([stats.hits, stats.misses, stats.absentHits]).toEqual([3, 2, 1]);
    expect(stats.hitRate).toBe(3 / 5);
  });

  it("prefetches count in neither", async () => {
    const { cache } = twoLevels();
    await cache.prefetch(["p"], { load: async () => bytes(1) });
    await cache.getOrLoad("p", async () => bytes(1));
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 0, hitRate: 1 });
  });
});

describe("on / once / off", () => {
  it("once() hears one event, then nothing; off() removes a listener", async () => {
    const { cache } = twoLevels();
    const onced: string[] = [];
    const always: string[] = [];
    cache.once("miss", (e) => onced.push(e.key));
    const listener = (e: CacheEvents["miss"]) => always.push(e.key);
    cache.on("miss", listener);
    await cache.getOrLoad("a", async () => bytes(1));
    await cache.getOrLoad("b", async () => bytes(1));
    expect(onced).toEqual(["a"]);
    expect(always).toEqual(["a", "b"]);
    expect(cache.off("miss", listener)).toBe(true);
    expect(cache.off("miss", listener)).toBe(false);
    await cache.getOrLoad("c", async () => bytes(1));
    expect(always).toEqual(["a", "b"]);
    // Nobody listens any more: emit sites skip building events.
    expect(cache.events.has("miss")).toBe(false);
  });

  it("off() removes a once() listener before it fired, and once()'s return value does too", async () => {
    const { cache } = twoLevels();
    const heard: string[] = [];
    const listener = (e: CacheEvents["load"]) => heard.push(e.key);
    cache.once("load", listener);
    expect(cache.off("load", listener)).toBe(true);
    const unsubscribe = cache.once("load", listener);
    unsubscribe();
    await cache.getOrLoad("k", async () => bytes(1));
    expect(heard).toEqual([]);
    expect(cache.events.has("load")).toBe(false);
  });

  it("a listener added twice is called twice and needs two off()s", () => {
    const emitter = new Emitter<{ ping: number }>();
    const heard: number[] = [];
    const listener = (n: number) => heard.push(n);
    emitter.on("ping", listener);
    emitter.on("ping", listener);
    emitter.emit("ping", 1);
    expect(emitter.off("ping", listener)).toBe(true);
    emitter.emit("ping", 2);
    expect(emitter.off("ping", listener)).toBe(true);
    emitter.emit("ping", 3);
    expect(heard).toEqual([1, 1, 2]);
    expect(emitter.has("ping")).toBe(false);
  });

  it("a once() listener that throws is still removed, and removing listeners mid-emit skips nobody", () => {
    const emitter = new Emitter<{ ping: number }>();
    const heard: string[] = [];
    emitter.once("ping", () => {
      heard.push("once");
      throw new Error("faulty listener");
    });
    const second = () => heard.push("second");
    emitter.on("ping", () => {
      heard.push("first");
      emitter.off("ping", second);
    });
    emitter.on("ping", second);
    emitter.emit("ping", 1);
    emitter.emit("ping", 2);
    expect(heard).toEqual(["once", "first", "second", "first"]);
  });

  it("refuses unknown event names (with a did-you-mean) and listeners that are not functions", () => {
    const { cache } = twoLevels();
    expect(codeOf(() => cache.on("mis" as never, () => {}))).toMatch(
      /^INVALID_ARGUMENT: on\(type, listener\): unknown event "mis" — did you mean "miss"\?/,
    );
    expect(codeOf(() => cache.once("loaded" as never, () => {}))).toMatch(/^INVALID_ARGUMENT: once\(.*did you mean "load"/);
    expect(codeOf(() => cache.off("nonsense" as never, () => {}))).toMatch(
      /^INVALID_ARGUMENT: off\(type, listener\): unknown event "nonsense" \(events: hit, /,
    );
    expect(codeOf(() => cache.on("hit", "listener" as never))).toBe(
      'INVALID_ARGUMENT: on("hit", listener): listener must be a function, got "listener"',
    );
  });
});
