// The plugin's options, budget, pause/resume, cancellation, warmKeys and the "lower" target.
import { cacheKey, createCache, isZarrsCacheError, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { neighbor, predictive, timeAware, warming } from "../src/index.js";

const MiB = 1024 * 1024;
const open: TieredCache[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
});

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isZarrsCacheError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

/** A loader that holds every load until released, and records each. */
function gatedLoads() {
  const loads: { key: string; signal: AbortSignal; release: () => void }[] = [];
  const load = (key: string, signal: AbortSignal) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    loads.push({ key, signal, release });
    return gate.then(() => new Uint8Array(100).fill(key.length));
  };
  return { loads, load };
}

const key = (i: number) => cacheKey("ds", `/k${i}`);
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("warming() options", () => {
  it("refuses bad options, naming them", () => {
    expect(messageOf(() => warming({ strategies: "neighbor" as never }))).toMatch(
      /^INVALID_CONFIG: warming\(\): option "strategies" must be an array/,
    );
    expect(messageOf(() => warming({ strategies: [{} as never] }))).toMatch(/option "strategies\[0\]" must be a strategy/);
    expect(messageOf(() => warming({ strategies: [neighbor(), neighbor()] }))).toMatch(/names a strategy twice/);
    expect(messageOf(() => warming({ budget: { maxInFlite: 2 } as never }))).toMatch(/option "budget": unknown option "maxInFlite"/);
    expect(messageOf(() => warming({ budget: { maxInFlight: 0 } }))).toMatch(/option "budget.maxInFlight" must be a positive integer/);
    expect(messageOf(() => warming({ target: "l1" as never }))).toMatch(/option "target" must be "all" or "lower"/);
    expect(messageOf(() => neighbor({ distance: -1 }))).toMatch(/^INVALID_CONFIG: neighbor\(\): option "distance"/);
    expect(messageOf(() => neighbor({ dims: [] }))).toMatch(/option "dims" must be a non-empty array/);
    expect(messageOf(() => predictive({ minConfidence: 1.5 }))).toMatch(/^INVALID_CONFIG: predictive\(\): option "minConfidence"/);
    expect(messageOf(() => predictive({ lookahed: 3 } as never))).toMatch(/did you mean "lookahead"/);
    expect(messageOf(() => timeAware({ clock: {} as never }))).toMatch(
      /^INVALID_CONFIG: timeAware\(\): option "clock" must have a now\(\) method/,
    );
    expect(messageOf(() => timeAware({ period: "month" as never }))).toMatch(/option "period" must be "day" or "week"/);
  });

  it("one plugin per cache, and its methods need it installed", async () => {
    const plugin = warming();
    expect(messageOf(() => plugin.pause())).toMatch(/^INVALID_ARGUMENT: warming.pause\(\): install the plugin first/);
    open.push(
      createCache()
        .tier(memory({ maxBytes: MiB }))
        .use(plugin)
        .build(),
    );
    expect(
      messageOf(() =>
        createCache()
          .tier(memory({ maxBytes: MiB }))
          .use(plugin)
          .build(),
      ),
    ).toMatch(/already installed/);
  });
});

describe("warmKeys, budget, pause and cancellation", () => {
  it("warmKeys loads keys and counts them; a later read counts as used", async () => {
    const plugin = warming({ strategies: [] });
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .use(plugin)
      .build();
    open.push(cache);
    let loads = 0;
    cache.registerLoader(cacheKey("ds", ""), async () => (loads++, new Uint8Array(10)));
    const outcomes = await plugin.warmKeys([key(1), key(2)]);
    expect(outcomes.map((o) => o.status)).toEqual(["loaded", "loaded"]);
    expect(await plugin.warmKeys([key(1)])).toMatchObject([{ status: "cached" }]);
    await cache.getOrLoad(key(1), async () => new Uint8Array(1));
    expect(plugin.stats().strategies.keys).toMatchObject({
      issued: 3,
      loaded: 2,
      alreadyCached: 1,
      used: 1,
      bytesLoaded: 20,
      bytesUsed: 10,
    });
    expect(plugin.stats().unreadBytes).toBe(10);
    expect(loads).toBe(2);
  });

  it("keeps at most maxInFlight prefetches loading; pause cancels them, resume goes on", async () => {
    const keys = Array.from({ length: 10 }, (_, i) => key(i));
    // A strategy that asks for all ten keys on any read.
    const everything = { name: "everything", priority: 0, onKeyRead: () => undefined, tick: () => keys };
    const plugin = warming({ strategies: [everything], budget: { maxInFlight: 3 }, tickMs: 0 });
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .use(plugin)
      .build();
    open.push(cache);
    const { loads, load } = gatedLoads();
    cache.registerLoader(cacheKey("ds", ""), load);
    void plugin.tick();
    await tick();
    expect(loads).toHaveLength(3);
    plugin.pause();
    await tick();
    expect(loads.every((l) => l.signal.aborted)).toBe(true);
    expect(plugin.stats()).toMatchObject({ paused: true, strategies: { everything: { issued: 3, cancelled: 3 } } });
    plugin.resume();
    void plugin.tick(); // a new hour would ask again; the test strategy always does
    await tick();
    expect(loads).toHaveLength(6);
    // Releasing loads frees slots: the rest start, never more than 3 at once.
    for (let released = 3; released < loads.length; released++) {
      loads[released]!.release();
      await tick();
      expect(loads.length - released - 1).toBeLessThanOrEqual(3);
    }
    await plugin.idle();
    expect(loads).toHaveLength(13);
    expect(plugin.stats().strategies.everything).toMatchObject({ issued: 13, loaded: 10, cancelled: 3 });
  });

  it("a prefetch a reader joined goes on when the plugin pauses, and counts as late", async () => {
    const plugin = warming({ strategies: [{ name: "one", priority: 0, tick: () => [key(1)] }], tickMs: 0 });
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .use(plugin)
      .build();
    open.push(cache);
    const { loads, load } = gatedLoads();
    cache.registerLoader(cacheKey("ds", ""), load);
    const warmed = plugin.tick();
    await tick();
    const reader = cache.getOrLoad(key(1), async () => new Uint8Array(1));
    plugin.pause();
    loads[0]!.release();
    expect((await reader)?.byteLength).toBe(100);
    await warmed;
    expect(loads[0]!.signal.aborted).toBe(false);
    expect(plugin.stats().strategies.one).toMatchObject({ issued: 1, late: 1, used: 1 });
  });

  it('target "lower" keeps prefetched bytes out of L1; a read then finds them below', async () => {
    const plugin = warming({ strategies: [{ name: "one", priority: 0, tick: () => [key(1)] }], target: "lower", tickMs: 0 });
    const l1 = memory({ maxBytes: MiB, name: "l1" });
    const l2 = memory({ maxBytes: MiB, name: "l2" });
    const cache = createCache().tier(l1).tier(l2).use(plugin).build();
    open.push(cache);
    cache.registerLoader(cacheKey("ds", ""), async () => new Uint8Array(8));
    await plugin.tick();
    await cache.flush();
    expect(l1.getSync!(key(1))).toBeUndefined();
    expect(await l2.get(key(1))).toBeDefined();
    let loads = 0;
    await cache.getOrLoad(key(1), async () => (loads++, new Uint8Array(1)));
    expect(loads).toBe(0);
    expect(plugin.stats().strategies.one!.used).toBe(1);
  });
});
