// Load ("flight") semantics: timeouts, abandonment, cancellation by waiters, close(), loadSettled.
import { DEFAULT_LOAD_TIMEOUT, type TieredCache, createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bytes, gatedLoader, hungLoader, instrumented, sleep } from "./helpers.js";

const MiB = 1024 * 1024;
let open: TieredCache[] = [];
function cacheWith(options?: Parameters<typeof createCache>[0], ...lower: Parameters<ReturnType<typeof createCache>["tier"]>[0][]) {
  let builder = createCache(options).tier(memory({ maxBytes: 4 * MiB, name: "l1" }));
  for (const tier of lower) builder = builder.tier(tier);
  const cache = builder.build();
  open.push(cache);
  return cache;
}
afterEach(async () => {
  vi.useRealTimers();
  for (const cache of open) await cache.close().catch(() => {});
  open = [];
});
const code = (c: string) => (e: unknown) => isZarrsCacheError(e, c as never);

describe("hung loads", () => {
  it("abandons a load that outlives loadTimeout: callers get TIMEOUT, the loader's signal fires, the next read loads afresh", async () => {
    const cache = cacheWith({ loadTimeout: 30 });
    const hung = hungLoader();
    const abandoned: string[] = [];
    cache.events.on("abandon", (e) => abandoned.push(`${e.key}:${e.reason}`));
    const first = cache.getOrLoad("k", hung.load);
    const second = cache.getOrLoad("k", hung.load); // joins the hung flight
    await expect(first).rejects.toSatisfy(code("TIMEOUT"));
    await expect(second).rejects.toSatisfy(code("TIMEOUT"));
    expect(hung.seen.calls).toBe(1);
    expect(hung.seen.signals[0]!.aborted).toBe(true);
    expect(isZarrsCacheError(hung.seen.signals[0]!.reason, "TIMEOUT")).toBe(true);
    expect(cache.peek("k")).toBeUndefined();
    expect((await cache.getOrLoad("k", async () => bytes(7)))?.[0]).toBe(7);
    expect(cache.stats().loadTimeouts).toBe(1);
    expect(abandoned).toEqual(["k:timeout"]);
  });

  it("times out after 30 s by default, and never when loadTimeout is false", async () => {
    vi.useFakeTimers();
    expect(DEFAULT_LOAD_TIMEOUT).toBe(30_000);
    const cache = cacheWith();
    const unbounded = cacheWith({ loadTimeout: false });
    const settled: string[] = [];
    const bounded = cache.getOrLoad("k", hungLoader().load).catch((e) => settled.push(`bounded:${e.code}`));
    void unbounded.getOrLoad("k", hungLoader().load).catch((e) => settled.push(`unbounded:${e.code}`));
    await vi.advanceTimersByTimeAsync(29_999);
    expect(settled).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await bounded;
    expect(settled).toEqual(["bounded:TIMEOUT"]);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(settled).toEqual(["bounded:TIMEOUT"]);
  });

  it("times out each load at its own deadline, however many are in flight", async () => {
    vi.useFakeTimers();
    const cache = cacheWith({ loadTimeout: 50 });
    const settled: string[] = [];
    const track = (name: string, p: Promise<unknown>) =>
      p.then(
        () => settled.push(`${name}:ok`),
        (e) => settled.push(`${name}:${e.code}`),
      );
    const quick = gatedLoader(bytes(1));
    void track("a", cache.getOrLoad("a", quick.load));
    await vi.advanceTimersByTimeAsync(20);
    void track("b", cache.getOrLoad("b", hungLoader().load));
    await vi.advanceTimersByTimeAsync(10);
    void track("c", cache.getOrLoad("c", hungLoader().load));
    quick.release(); // the oldest load answers: the timer must still catch the younger ones
    await vi.advanceTimersByTimeAsync(39);
    expect(settled).toEqual(["a:ok"]);
    await vi.advanceTimersByTimeAsync(1); // b started at 20 ms: its deadline is 70 ms
    expect(settled).toEqual(["a:ok", "b:TIMEOUT"]);
    await vi.advanceTimersByTimeAsync(9);
    expect(settled).toEqual(["a:ok", "b:TIMEOUT"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toEqual(["a:ok", "b:TIMEOUT", "c:TIMEOUT"]);
  });

  it("lets no change leave new readers behind an old hung load", async () => {
    const cache = cacheWith({ loadTimeout: false });
    for (const change of [
      (c: TieredCache) => c.invalidate("k"),
      (c: TieredCache) => c.delete("k"),
      (c: TieredCache) => c.clear(),
      (c: TieredCache) => c.set("k", bytes(2)).then(() => c.delete("k")),
      (c: TieredCache) => c.write("k", bytes(2), () => {}).then(() => c.delete("k")),
    ]) {
      const hung = hungLoader();
      const stuck = cache.getOrLoad("k", hung.load);
      await change(cache);
      expect((await cache.getOrLoad("k", async () => bytes(9)))?.[0]).toBe(9);
      expect(hung.seen.signals[0]!.aborted).toBe(false); // its own caller still waits for it
      await cache.delete("k");
      void stuck.catch(() => {});
    }
  });

  it("close() rejects every waiting caller with CLOSED, also callers of detached loads, without waiting for them", async () => {
    const cache = cacheWith({ loadTimeout: false });
    const hung = hungLoader();
    const attached = cache.getOrLoad("a", hung.load);
    const detached = cache.getOrLoad("b", hung.load);
    await cache.invalidate("b");
    const started = Date.now();
    await cache.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(attached).rejects.toSatisfy(code("CLOSED"));
    await expect(detached).rejects.toSatisfy(code("CLOSED"));
    expect(hung.seen.signals.map((s) => s.aborted)).toEqual([true, true]);
  });
});

describe("cancellation", () => {
  it("aborts the load when its lone caller aborts; nothing is cached and the next read loads again", async () => {
    const cache = cacheWith();
    const { load, seen } = gatedLoader(bytes(1));
    const controller = new AbortController();
    const reading = cache.getOrLoad("k", load, { signal: controller.signal });
    await sleep(1);
    controller.abort(new Error("user panned away"));
    await expect(reading).rejects.toThrow("user panned away");
    expect(seen.signals[0]!.aborted).toBe(true);
    expect(isZarrsCacheError(seen.signals[0]!.reason, "ABORTED")).toBe(true);
    expect(cache.stats().loadAborts).toBe(1);
    let calls = 0;
    expect((await cache.getOrLoad("k", async () => (calls++, bytes(2))))?.[0]).toBe(2);
    expect(calls).toBe(1);
  });

  it("never cancels a load other callers still wait for", async () => {
    const cache = cacheWith();
    const { load, seen, release } = gatedLoader(bytes(5));
    const a = new AbortController();
    const b = new AbortController();
    const first = cache.getOrLoad("k", load, { signal: a.signal });
    const second = cache.getOrLoad("k", load, { signal: b.signal });
    const third = cache.getOrLoad("k", load); // no signal: can never leave
    a.abort(new Error("a left"));
    b.abort(new Error("b left"));
    await expect(first).rejects.toThrow("a left");
    await expect(second).rejects.toThrow("b left");
    expect(seen.signals[0]!.aborted).toBe(false);
    release();
    expect((await third)?.[0]).toBe(5);
    expect(cache.peek("k")?.[0]).toBe(5);
    expect(seen.calls).toBe(1);
  });

  it("aborts the load only when the last of several waiters aborts", async () => {
    const cache = cacheWith();
    const { load, seen } = gatedLoader(bytes(5));
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const reads = controllers.map((c) => cache.getOrLoad("k", load, { signal: c.signal }).catch(() => "aborted"));
    controllers[0]!.abort();
    controllers[1]!.abort();
    await sleep(1);
    expect(seen.signals[0]!.aborted).toBe(false);
    controllers[2]!.abort();
    expect(await Promise.all(reads)).toEqual(["aborted", "aborted", "aborted"]);
    expect(seen.signals[0]!.aborted).toBe(true);
  });

  it("shares one abort listener per caller signal across many loads (no MaxListenersExceededWarning)", async () => {
    const cache = cacheWith();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    try {
      const controller = new AbortController();
      const loaders = Array.from({ length: 50 }, () => gatedLoader(bytes(1)));
      const reads = loaders.map((l, i) => cache.getOrLoad(`c/${i}`, l.load, { signal: controller.signal }).catch(() => "aborted"));
      await sleep(1); // the loaders are running
      controller.abort();
      expect(new Set(await Promise.all(reads))).toEqual(new Set(["aborted"]));
      expect(loaders.every((l) => l.seen.signals[0]!.aborted)).toBe(true);
      await sleep(5); // warnings are emitted on the next tick
      expect(warnings).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("does not start a load for a caller whose signal already fired", async () => {
    const cache = cacheWith();
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    let calls = 0;
    await expect(cache.getOrLoad("k", async () => (calls++, bytes(1)), { signal: controller.signal })).rejects.toThrow("too late");
    await expect(cache.load("k", async () => (calls++, bytes(1)), { signal: controller.signal })).rejects.toThrow("too late");
    expect(calls).toBe(0);
  });

  it("counts prefetches as waiters: an abandoned prefetch is cancelled, one a reader joined goes on", async () => {
    const cache = cacheWith();
    const loads: { key: string; signal: AbortSignal; release: () => void }[] = [];
    cache.registerLoader("ds:", (key, signal) => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      loads.push({ key, signal, release });
      return gate.then(() => bytes(key.length));
    });
    const errors: unknown[] = [];
    cache.events.on("error", (e) => errors.push(e.error));

    const alone = new AbortController();
    const warming = cache.prefetch(["ds:/a"], { signal: alone.signal });
    await sleep(1);
    alone.abort();
    await warming; // resolves: an aborted prefetch is not a failure
    expect(loads[0]!.signal.aborted).toBe(true);
    expect(errors).toEqual([]);

    const joined = new AbortController();
    const warmingB = cache.prefetch(["ds:/bb"], { signal: joined.signal });
    await sleep(1);
    const reader = cache.getOrLoad("ds:/bb", async () => bytes(0));
    joined.abort();
    await warmingB;
    expect(loads[1]!.signal.aborted).toBe(false);
    loads[1]!.release();
    expect((await reader)?.[0]).toBe("ds:/bb".length);
    expect(loads).toHaveLength(2);
  });
});

describe("loadSettled on the lower tiers a load asked", () => {
  function setup(options?: Parameters<typeof createCache>[0]) {
    const spy = instrumented(memory({ maxBytes: MiB }), "shared");
    return { cache: cacheWith(options, spy.tier), control: spy.control };
  }

  it("tells a tier that missed how a load ended that did not fill it", async () => {
    const { cache, control } = setup({ loadTimeout: 30, negativeCaching: false });
    await cache.getOrLoad("filled", async () => bytes(1));
    await cache.flush();
    await expect(cache.getOrLoad("failed", async () => Promise.reject(new Error("500")))).rejects.toThrow("500");
    await expect(cache.getOrLoad("timeout", hungLoader().load)).rejects.toSatisfy(code("TIMEOUT"));
    const controller = new AbortController();
    const aborted = cache.getOrLoad("aborted", gatedLoader(bytes(1)).load, { signal: controller.signal });
    await sleep(1);
    controller.abort();
    await aborted.catch(() => {});
    await cache.getOrLoad("absent", async () => undefined); // negative caching off: not cached
    const gate = gatedLoader(bytes(1));
    const raced = cache.getOrLoad("raced", gate.load);
    await sleep(1);
    await cache.write("raced", bytes(2), () => {});
    gate.release();
    await raced;
    expect(control.settled).toEqual([
      ["failed", "failed"],
      ["timeout", "aborted"],
      ["aborted", "aborted"],
      ["absent", "uncached"],
      ["raced", "uncached"],
    ]);
    await cache.get("plain"); // a plain lookup takes nothing that needs releasing
    expect(control.loadingGets).not.toContain("plain");
  });

  it("tells a tier whose fill was skipped because too many fills were pending", async () => {
    const { cache, control } = setup({ maxPendingWrites: 2 });
    let release!: () => void;
    control.setGate = new Promise((resolve) => (release = resolve));
    await cache.getOrLoad("one", async () => bytes(1)); // its fill of L2 is held at the gate: one slot left
    await sleep(5);
    await cache.getOrLoad("two", async () => bytes(2));
    release();
    await cache.flush();
    expect(control.settled).toContainEqual(["two", "uncached"]);
    expect(control.settled.map(([key]) => key)).not.toContain("one");
  });

  it("keeps a read working when loadSettled throws", async () => {
    const { cache, control } = setup();
    control.throwInSettled = true;
    await expect(cache.getOrLoad("k", async () => Promise.reject(new Error("upstream")))).rejects.toThrow("upstream");
    expect(control.settled).toEqual([["k", "failed"]]);
    expect(cache.stats().errors).toBe(1);
  });
});

describe("write() result", () => {
  it("lists every tier and whether a shared copy may be stale", async () => {
    const spy = instrumented(memory({ maxBytes: MiB }), "shared");
    const cache = cacheWith({}, spy.tier);
    const ok = await cache.write("k", bytes(1), () => {});
    expect(ok).toEqual({
      key: "k",
      action: "cached",
      ok: true,
      mayBeStale: false,
      tiers: [
        { name: "l1", level: 0, ok: true, mayBeStale: false },
        { name: "shared", level: 1, ok: true, mayBeStale: false },
      ],
    });
    spy.control.failSets = true;
    const cleaned = await cache.write("k", bytes(2), () => {});
    expect([cleaned.ok, cleaned.mayBeStale, cleaned.tiers[1]!.ok, cleaned.tiers[1]!.mayBeStale]).toEqual([false, false, false, false]);
    expect(String(cleaned.tiers[1]!.error)).toMatch(/set failed/);
    spy.control.failDeletes = true;
    const stale = await cache.write("k", bytes(3), () => {});
    expect([stale.ok, stale.mayBeStale, stale.tiers[1]!.mayBeStale]).toEqual([false, true, true]);
    expect(String(stale.tiers[1]!.error)).toMatch(/delete failed/);
  });

  it("reports write-around invalidations the same way", async () => {
    const spy = instrumented(memory({ maxBytes: MiB, name: "shared" }));
    const cache = cacheWith({ writePolicy: "write-around" }, spy.tier);
    expect((await cache.write("k", bytes(1), () => {})).action).toBe("invalidated");
    spy.control.failDeletes = true;
    const result = await cache.write("k", bytes(1), () => {});
    expect([result.ok, result.mayBeStale, result.tiers.map((t) => t.mayBeStale)]).toEqual([false, true, [false, true]]);
  });
});
