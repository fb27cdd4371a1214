import { forwardingTier } from "@zarrs-cache/core/test-utils";
import {
  type CacheEntry,
  type CacheTier,
  type TierInvalidation,
  type TieredCache,
  ZarrsCacheError,
  createCache,
  isZarrsCacheError,
} from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";

const MiB = 1024 * 1024;
const bytes = (...values: number[]) => new Uint8Array(values);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Wraps a tier so tests can slow it down, fail it, or push invalidations through it. */
function controllable(inner: CacheTier) {
  const control = {
    failGets: false,
    setGate: undefined as Promise<void> | undefined,
    listeners: [] as ((m: TierInvalidation) => void)[],
    invalidate(message: TierInvalidation) {
      for (const l of control.listeners) l(message);
    },
  };
  const tier = forwardingTier(inner, {
    name: `ctl(${inner.name})`,
    get: async (key) => {
      if (control.failGets) throw new Error("tier down");
      return inner.get(key);
    },
    set: async (key, value, options) => {
      if (control.setGate) await control.setGate;
      return inner.set(key, value, options);
    },
    onInvalidation(listener) {
      control.listeners.push(listener);
      return () => (control.listeners = control.listeners.filter((l) => l !== listener));
    },
  });
  return { tier, control };
}

let open: TieredCache[] = [];
function twoLevels(options?: Parameters<typeof createCache>[0]) {
  const l1 = memory({ maxBytes: 4 * MiB, name: "l1" });
  const l2 = memory({ maxBytes: 16 * MiB, name: "l2" });
  const cache = createCache(options).tier(l1).tier(l2).build();
  open.push(cache);
  return { cache, l1, l2 };
}
afterEach(async () => {
  for (const cache of open) await cache.close().catch(() => {});
  open = [];
});

describe("read-through", () => {
  it("loads once, then answers from L1 without calling the loader", async () => {
    const { cache } = twoLevels();
    let calls = 0;
    const loader = async () => (calls++, bytes(1, 2, 3));
    expect(Array.from((await cache.getOrLoad("k", loader))!)).toEqual([1, 2, 3]);
    expect(Array.from((await cache.getOrLoad("k", loader))!)).toEqual([1, 2, 3]);
    expect(calls).toBe(1);
    expect(cache.peek("k")).toBeInstanceOf(Uint8Array);
    expect(cache.levelStats()[0]!.hits).toBe(2); // the second read and the peek
  });

  it("merges concurrent misses of one key into one loader call", async () => {
    const { cache } = twoLevels();
    let calls = 0;
    const gate = deferred();
    const loader = async () => {
      calls++;
      await gate.promise;
      return bytes(9);
    };
    const waiters = Array.from({ length: 50 }, () => cache.getOrLoad("same", loader));
    gate.resolve();
    const results = await Promise.all(waiters);
    expect(calls).toBe(1);
    expect(results.every((r) => r?.[0] === 9)).toBe(true);
    expect(cache.stats().joins).toBe(49);
  });

  it("backfills upper tiers from a lower hit with the remaining TTL", async () => {
    const { cache, l1, l2 } = twoLevels();
    await l2.set("k", bytes(4), { ttl: 10_000 });
    const stored = (await l2.get("k"))!.expiresAt!;
    await sleep(30);
    expect((await cache.getOrLoad("k", async () => bytes(0xff)))?.[0]).toBe(4);
    await cache.flush();
    const upper = (await l1.get("k"))!;
    expect(Math.abs(upper.expiresAt! - stored)).toBeLessThanOrEqual(5); // not a fresh 10 s, nor "forever" (a few ms may tick)
    expect(cache.levelStats()[1]!.hits).toBe(1);
  });

  it("never backfills an entry that expired on the way", async () => {
    const { cache, l2 } = twoLevels();
    await l2.set("k", bytes(4), { ttl: 1 });
    await sleep(5);
    expect((await cache.getOrLoad("k", async () => bytes(5)))?.[0]).toBe(5);
  });

  it("propagates a loader error to every waiter and does not cache it", async () => {
    const { cache } = twoLevels();
    let calls = 0;
    const failing = async () => {
      calls++;
      await sleep(5);
      throw new Error("upstream 500");
    };
    const results = await Promise.allSettled([cache.getOrLoad("e", failing), cache.getOrLoad("e", failing)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(calls).toBe(1);
    expect((await cache.getOrLoad("e", async () => bytes(1)))?.[0]).toBe(1);
    expect(cache.stats().loadErrors).toBe(1);
  });

  it("caches 'absent' with its own TTL, and not at all when turned off", async () => {
    const { cache } = twoLevels({ ttl: { absent: 50 } });
    let calls = 0;
    const absent = async () => (calls++, undefined);
    expect(await cache.getOrLoad("a", absent)).toBeUndefined();
    expect(await cache.getOrLoad("a", absent)).toBeUndefined();
    expect(calls).toBe(1);
    expect(cache.peek("a")).toBeNull();
    await sleep(80);
    await cache.getOrLoad("a", absent);
    expect(calls).toBe(2);

    const off = twoLevels({ negativeCaching: false }).cache;
    let offCalls = 0;
    await off.getOrLoad("a", async () => (offCalls++, undefined));
    await off.getOrLoad("a", async () => (offCalls++, undefined));
    expect(offCalls).toBe(2);
  });

  it("does not cache a real empty value (empty entries mean absent)", async () => {
    const { cache } = twoLevels();
    let calls = 0;
    const empty = async () => (calls++, new Uint8Array(0));
    expect((await cache.getOrLoad("e", empty))?.byteLength).toBe(0);
    expect((await cache.getOrLoad("e", empty))?.byteLength).toBe(0);
    expect(calls).toBe(2);
  });

  it("applies TTL classes per key kind", async () => {
    const { cache, l1 } = twoLevels({ ttl: { metadata: 1000, chunk: 60_000 } });
    await cache.getOrLoad("m", async () => bytes(1), { kind: "metadata" });
    await cache.getOrLoad("c", async () => bytes(1), { kind: "chunk" });
    await cache.getOrLoad("o", async () => bytes(1));
    const now = Date.now();
    expect((await l1.get("m"))!.expiresAt! - now).toBeLessThanOrEqual(1000);
    expect((await l1.get("c"))!.expiresAt! - now).toBeGreaterThan(50_000);
    expect((await l1.get("o"))!.expiresAt).toBeUndefined();
  });

  it("serves from the next tier when one tier fails, and reports the error", async () => {
    const { tier, control } = controllable(memory({ maxBytes: MiB }));
    const l1 = memory({ maxBytes: MiB });
    const l3 = memory({ maxBytes: MiB });
    const cache = createCache().tier(l1).tier(tier).tier(l3).build();
    open.push(cache);
    await l3.set("k", bytes(3));
    control.failGets = true;
    const errors: unknown[] = [];
    cache.events.on("error", (e) => errors.push(e.error));
    expect((await cache.getOrLoad("k", async () => bytes(0)))?.[0]).toBe(3);
    expect(errors).toHaveLength(1);
    expect(cache.stats().errors).toBe(1);
  });

  it("does not wait for a slow lower tier, and close() flushes it", async () => {
    const { tier, control } = controllable(memory({ maxBytes: MiB, name: "slow" }));
    const gate = deferred();
    control.setGate = gate.promise;
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .tier(tier)
      .build();
    open.push(cache);
    // The read resolves while the slow tier's write is still held at the gate.
    expect((await cache.getOrLoad("k", async () => bytes(7)))?.[0]).toBe(7);
    expect(cache.stats().pendingWrites).toBe(1);
    expect(await tier.has("k")).toBe(false);
    const closing = cache.close();
    await sleep(10);
    gate.resolve();
    await closing;
  });

  it("drops no deferred fill when reads never yield to the event loop", async () => {
    const { cache, l2 } = twoLevels({ maxPendingWrites: 64 });
    for (let i = 0; i < 500; i++) await cache.getOrLoad(`k${i}`, async () => bytes(i & 0xff));
    await cache.flush();
    expect(cache.stats().droppedWrites).toBe(0);
    expect(l2.stats().entries).toBe(500);
  });

  it("bounds fills in flight and counts those it skipped", async () => {
    const { tier, control } = controllable(memory({ maxBytes: MiB, name: "slow" }));
    const gate = deferred();
    control.setGate = gate.promise;
    const cache = createCache({ maxPendingWrites: 2 }).tier(tier).build();
    open.push(cache);
    for (let i = 0; i < 5; i++) await cache.getOrLoad(`k${i}`, async () => bytes(i));
    expect(cache.stats().pendingWrites).toBe(2);
    expect(cache.stats().droppedWrites).toBe(3);
    gate.resolve();
    await cache.flush();
    expect(cache.stats().pendingWrites).toBe(0);
  });

  it("lets an AbortSignal end only its own wait", async () => {
    const { cache } = twoLevels();
    const gate = deferred<Uint8Array>();
    const controller = new AbortController();
    const mine = cache.getOrLoad("k", () => gate.promise, { signal: controller.signal });
    const theirs = cache.getOrLoad("k", () => gate.promise);
    controller.abort(new Error("stop"));
    await expect(mine).rejects.toThrow("stop");
    gate.resolve(bytes(5));
    expect((await theirs)?.[0]).toBe(5);
    const pre = new AbortController();
    pre.abort(new Error("already"));
    await expect(cache.getOrLoad("z", async () => bytes(1), { signal: pre.signal })).rejects.toThrow("already");
  });

  it("rejects a loader that returns something other than bytes", async () => {
    const { cache } = twoLevels();
    await expect(cache.getOrLoad("k", async () => "text" as never)).rejects.toSatisfy((e) => isZarrsCacheError(e, "UPSTREAM_ERROR"));
  });
});

describe("writes and invalidation", () => {
  it("write-through stores first and caches after success", async () => {
    const { cache, l1, l2 } = twoLevels();
    const order: string[] = [];
    await cache.write("k", bytes(1), async () => {
      order.push("store");
      expect(await l1.has("k")).toBe(false);
    });
    order.push("done");
    expect((await l1.get("k"))?.value[0]).toBe(1);
    expect((await l2.get("k"))?.value[0]).toBe(1);
    expect(order).toEqual(["store", "done"]);
  });

  it("a failed write leaves the cache as it was", async () => {
    const { cache, l1 } = twoLevels();
    await cache.set("k", bytes(1));
    await expect(cache.write("k", bytes(2), async () => Promise.reject(new Error("store down")))).rejects.toThrow("store down");
    expect((await l1.get("k"))?.value[0]).toBe(1);
  });

  it("write-around invalidates instead of caching", async () => {
    const { cache, l1, l2 } = twoLevels({ writePolicy: "write-around" });
    await cache.set("k", bytes(1));
    await cache.write("k", bytes(2), async () => {});
    expect(await l1.has("k")).toBe(false);
    expect(await l2.has("k")).toBe(false);
  });

  it("a load that raced a write never caches its older value", async () => {
    const { cache } = twoLevels();
    const gate = deferred<Uint8Array>();
    const loading = cache.getOrLoad("k", () => gate.promise);
    await cache.write("k", bytes(2), async () => {});
    gate.resolve(bytes(1)); // the old value, read before the write
    expect((await loading)?.[0]).toBe(1);
    expect(cache.peek("k")?.[0]).toBe(2);
  });

  it("a newer write wins over a queued fill of a lower tier", async () => {
    const { cache, l2 } = twoLevels();
    await cache.getOrLoad("k", async () => bytes(1)); // L1 now, L2 on the next macrotask
    expect(cache.stats().pendingWrites).toBe(1);
    await cache.write("k", bytes(2), async () => {});
    await cache.flush();
    expect((await l2.get("k"))?.value[0]).toBe(2);
  });

  it("invalidates by prefix across all tiers", async () => {
    const { cache, l1, l2 } = twoLevels();
    await cache.set("ds1:/a", bytes(1));
    await cache.set("ds1:/b", bytes(1));
    await cache.set("ds2:/a", bytes(1));
    await l2.set("ds1:/only-l2", bytes(1));
    expect(await cache.invalidate("ds1:")).toBe(3);
    const keys: string[] = [];
    for await (const k of cache.keys()) keys.push(k);
    expect(keys).toEqual(["ds2:/a"]);
    expect(await l1.has("ds1:/a")).toBe(false);
  });

  it("drops upper-tier copies when a shared lower tier reports an invalidation", async () => {
    const { tier, control } = controllable(memory({ maxBytes: MiB, name: "shared" }));
    const l1 = memory({ maxBytes: MiB });
    const cache = createCache().tier(l1).tier(tier).build();
    open.push(cache);
    await cache.set("a", bytes(1));
    await cache.set("b", bytes(1));
    await cache.set("p/1", bytes(1));
    control.invalidate({ kind: "keys", keys: ["a"] });
    await sleep(1);
    expect(await l1.has("a")).toBe(false);
    expect(await l1.has("b")).toBe(true);
    control.invalidate({ kind: "prefix", prefix: "p/" });
    await sleep(1);
    expect(await l1.has("p/1")).toBe(false);
    control.invalidate({ kind: "all" });
    await sleep(1);
    expect(await l1.has("b")).toBe(false);
    expect(await tier.has("b")).toBe(true); // the shared tier itself keeps its entries
  });
});

describe("events, plugins and prefetch", () => {
  it("emits typed events, and a throwing listener cannot break a read", async () => {
    const { cache } = twoLevels();
    const seen: string[] = [];
    cache.events.on("miss", () => seen.push("miss"));
    cache.events.on("load", (e) => seen.push(`load:${e.bytes}`));
    cache.events.on("hit", (e) => seen.push(`hit:${e.tier}`));
    cache.events.on("hit", () => {
      throw new Error("bad listener");
    });
    await cache.getOrLoad("k", async () => bytes(1, 2));
    await cache.getOrLoad("k", async () => bytes(1, 2));
    expect(seen).toEqual(["miss", "load:2", "hit:l1"]);
  });

  it("reports entries a tier evicted or expired on its own", async () => {
    const l1 = memory({ maxBytes: 4096, entryOverhead: 0 });
    const cache = createCache({ ttl: { chunk: 20 } })
      .tier(l1)
      .build();
    open.push(cache);
    const evicted: string[] = [];
    cache.events.on("evict", (e) => evicted.push(`${e.key}:${e.reason}@${e.tier}`));
    await cache.getOrLoad("a", async () => new Uint8Array(3000));
    await cache.getOrLoad("b", async () => new Uint8Array(3000));
    expect(evicted).toEqual(["a:evict@memory"]);
    await cache.getOrLoad("c", async () => new Uint8Array(10), { kind: "chunk" });
    await sleep(40);
    await cache.getOrLoad("c", async () => new Uint8Array(10), { kind: "chunk" });
    expect(evicted).toContain("c:expire@memory");
  });

  it("prefetches from a batching lower tier with one getMany", async () => {
    const l2 = memory({ maxBytes: MiB, name: "l2" });
    let batches = 0;
    const batching = Object.assign(Object.create(l2) as typeof l2, {
      getMany: (keys: readonly string[]) => (batches++, l2.getMany(keys)),
    });
    const l1 = memory({ maxBytes: MiB, name: "l1" });
    const cache = createCache().tier(l1).tier(batching).build();
    open.push(cache);
    for (let i = 0; i < 10; i++) await l2.set(`k${i}`, bytes(i));
    let loads = 0;
    cache.registerLoader("k", async () => (loads++, bytes(99)));
    await cache.prefetch([...Array.from({ length: 10 }, (_, i) => `k${i}`), "k-new"]);
    await cache.flush();
    expect(batches).toBe(1);
    expect(loads).toBe(1); // only the key no tier had
    for (let i = 0; i < 10; i++) expect(cache.peek(`k${i}`)?.[0]).toBe(i);
    expect(cache.peek("k-new")?.[0]).toBe(99);
  });

  it("gives plugins events and prefetch, and tears them down on close", async () => {
    let torn = false;
    const hits: string[] = [];
    let prefetch!: (keys: readonly string[]) => Promise<unknown>;
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .use({
        name: "test-plugin",
        setup(ctx) {
          expect(Object.keys(ctx).sort()).toEqual(["holds", "levelStats", "on", "prefetch", "read", "reportError", "stats"]);
          ctx.on("hit", (e) => hits.push(e.key));
          prefetch = ctx.prefetch;
          return () => {
            torn = true;
          };
        },
      })
      .build();
    let loads = 0;
    cache.registerLoader("ds:", async (key) => (loads++, new TextEncoder().encode(key)));
    await prefetch(["ds:/c/0", "ds:/c/1", "unknown:/x"]);
    expect(loads).toBe(2);
    expect(new TextDecoder().decode((await cache.getOrLoad("ds:/c/1", async () => bytes(0)))!)).toBe("ds:/c/1");
    expect(hits).toEqual(["ds:/c/1"]);
    await cache.close();
    expect(torn).toBe(true);
  });
});

describe("builder validation and lifecycle", () => {
  const codeAndMessage = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      if (!isZarrsCacheError(error)) throw error;
      return `${error.code}: ${error.message}`;
    }
    return "no error";
  };

  it("names the bad option", () => {
    const tier = () => memory({ maxBytes: MiB });
    expect(codeAndMessage(() => createCache().build())).toMatch(/^INVALID_CONFIG: .*at least one tier/);
    expect(
      codeAndMessage(() =>
        createCache({ ttl: { chunk: -1 } })
          .tier(tier())
          .build(),
      ),
    ).toMatch(/INVALID_CONFIG: .*ttl\.chunk/);
    expect(
      codeAndMessage(() =>
        createCache({ ttl: { chunks: 5 } as never })
          .tier(tier())
          .build(),
      ),
    ).toMatch(/INVALID_CONFIG: .*ttl\.chunks/);
    expect(
      codeAndMessage(() =>
        createCache({ writePolicy: "write-back" as never })
          .tier(tier())
          .build(),
      ),
    ).toMatch(/INVALID_CONFIG: .*writePolicy/);
    expect(codeAndMessage(() => createCache({ maxPendingWrites: 0 }).tier(tier()).build())).toMatch(/INVALID_CONFIG: .*maxPendingWrites/);
    expect(
      codeAndMessage(() =>
        createCache()
          .tier({ name: "half" } as never)
          .build(),
      ),
    ).toMatch(/INVALID_CONFIG: .*missing get, set/);
    const t = tier();
    expect(codeAndMessage(() => createCache().tier(t).tier(t).build())).toMatch(/INVALID_CONFIG: .*added twice/);
    expect(
      codeAndMessage(() =>
        createCache()
          .tier(tier())
          .use({} as never)
          .build(),
      ),
    ).toMatch(/INVALID_CONFIG: .*setup/);
    expect(codeAndMessage(() => memory({ maxBytes: -1 }))).toMatch(/INVALID_CONFIG: .*maxBytes/);
  });

  it("runs each tier's open() check at build()", () => {
    const failing = {
      ...memory({ maxBytes: MiB }),
      name: "picky",
      open: () => {
        throw new Error("dir /nope is not writable");
      },
    };
    const tier = Object.assign(memory({ maxBytes: MiB }), { open: failing.open });
    expect(codeAndMessage(() => createCache().tier(tier).build())).toMatch(/INVALID_CONFIG: .*dir \/nope is not writable/);
  });

  it("closes without waiting for a hung load: its caller gets CLOSED, its loader's signal fires, nothing is cached", async () => {
    // Issue 8 item 2 changed this: close() used to leave the caller waiting for the hung load.
    const { cache, l1 } = twoLevels();
    const gate = deferred<Uint8Array>();
    let loadSignal: AbortSignal | undefined;
    const pending = cache.getOrLoad("k", (signal) => ((loadSignal = signal), gate.promise));
    await sleep(1); // the loader is running
    await cache.close();
    await expect(pending).rejects.toSatisfy((e) => isZarrsCacheError(e, "CLOSED"));
    expect(loadSignal?.aborted).toBe(true);
    gate.resolve(bytes(1));
    await expect(l1.get("k")).rejects.toSatisfy((e) => isZarrsCacheError(e, "CLOSED"));
  });

  it("serves get() from a lower tier when the L1 tier's synchronous lookup fails", async () => {
    const l1 = memory({ maxBytes: MiB });
    const broken = Object.assign(Object.create(l1) as typeof l1, {
      getSync: () => {
        throw new Error("disk I/O error");
      },
    });
    const l2 = memory({ maxBytes: MiB });
    const cache = createCache().tier(broken).tier(l2).build();
    open.push(cache);
    await l2.set("k", bytes(7));
    expect((await cache.get("k"))?.value[0]).toBe(7);
    expect((await cache.getOrLoad("k", async () => bytes(0)))?.[0]).toBe(7);
    expect(cache.stats().errors).toBeGreaterThanOrEqual(2);
  });

  it("marks its own fills so shared tiers can tell them from writes", async () => {
    const seen: (boolean | undefined)[] = [];
    const l1 = memory({ maxBytes: MiB });
    const spy = Object.assign(Object.create(l1) as typeof l1, {
      set: (key: string, value: Uint8Array, options?: { fill?: boolean }) => (seen.push(options?.fill), l1.set(key, value, options)),
    });
    const cache = createCache().tier(spy).build();
    open.push(cache);
    await cache.getOrLoad("read", async () => bytes(1));
    await cache.write("written", bytes(2), async () => {});
    await cache.set("set", bytes(3));
    expect(seen).toEqual([true, undefined, undefined]);
  });

  it("tells lower tiers whether a miss will be loaded", async () => {
    const seen: (boolean | undefined)[] = [];
    const l2 = memory({ maxBytes: MiB });
    const spy = Object.assign(Object.create(l2) as typeof l2, {
      get: (key: string, options?: { load?: boolean }) => (seen.push(options?.load), l2.get(key)),
    });
    const cache = createCache()
      .tier(memory({ maxBytes: MiB }))
      .tier(spy)
      .build();
    open.push(cache);
    await cache.get("plain-lookup");
    await cache.getOrLoad("read-through", async () => bytes(1));
    // A loading read says so (the disk tier's single-flight coordinates only then).
    expect(seen).toEqual([false, true]);
  });

  it("refuses use after close and closes its tiers", async () => {
    const { cache, l1 } = twoLevels();
    await cache.close();
    await cache.close();
    await expect(cache.getOrLoad("k", async () => bytes(1))).rejects.toSatisfy((e) => isZarrsCacheError(e, "CLOSED"));
    await expect(l1.get("k")).rejects.toSatisfy((e) => isZarrsCacheError(e, "CLOSED"));
  });

  it("recognises errors from another copy of the package", () => {
    const foreign = Object.assign(new Error("x"), { code: "CLOSED" });
    Object.defineProperty(foreign, Symbol.for("zarrs-cache.error"), { value: true });
    expect(isZarrsCacheError(foreign)).toBe(true);
    expect(isZarrsCacheError(foreign, "CLOSED")).toBe(true);
    expect(isZarrsCacheError(new Error("plain"))).toBe(false);
    const own = new ZarrsCacheError("IO_ERROR", "disk full", { cause: new Error("ENOSPC") });
    expect((own.cause as Error).message).toBe("ENOSPC");
  });

  it("works as a tier inside another TieredCache", async () => {
    const inner = createCache()
      .tier(memory({ maxBytes: MiB }))
      .build();
    const outer = createCache()
      .tier(memory({ maxBytes: MiB }))
      .tier(inner)
      .build();
    open.push(outer);
    await inner.set("k", bytes(8));
    expect((await outer.getOrLoad("k", async () => bytes(0)))?.[0]).toBe(8);
    const entry: CacheEntry | undefined = await outer.get("k");
    expect(entry?.value[0]).toBe(8);
  });
});
