/**
 * The shared conformance suite: every CacheTier runs it against itself.
 *
 *   import { describeTierConformance } from "@zarrs-cache/core/testing";
 *   describeTierConformance("memory", { create: () => memory({ maxBytes: 1 << 20 }) });
 *
 * Needs vitest (an optional peer dependency of @zarrs-cache/core).
 */
import { afterEach, describe, expect, it } from "vitest";
import { isZarrsCacheError, type ZarrsCacheErrorCode } from "./errors.js";
import { describeHolds } from "./testing-holds.js";
import { testBytes } from "./test-utils.js";
import type { CacheTier } from "./types.js";

export interface ConformanceOptions {
  /** A fresh, empty tier; called once per test. */
  create: () => CacheTier | Promise<CacheTier>;
  /** Runs after each test, after the tier is closed (remove files, keys…). */
  cleanup?: () => void | Promise<void>;
  /** The tier honours per-entry TTLs (default true). */
  ttl?: boolean;
  /** The largest value the suite writes (default 1 MiB). */
  largeValueBytes?: number;
  /** A value size the tier must refuse with VALUE_TOO_LARGE, if it has a limit. */
  oversizedValueBytes?: number;
  /** The tier reports `entries` and `bytes` exactly (default true; a shared Redis cannot). */
  exactSize?: boolean;
  /**
   * Opt-in: the tier does conditional fills (see SetOptions.loadStartedAt): a fill never replaces a
   * live entry and is refused after a delete, prefix delete or clear that came after its load began.
   * `tombstoneTtl`: the window of the tiers `create()` returns (keep it short, e.g. 400 ms) to
   * test that fills older than it are refused too.
   */
  conditionalFills?: boolean | { tombstoneTtl?: number };
  /**
   * Switches capability groups on or off (see ConformanceGroup); wins over `ttl` and
   * `conditionalFills`. E.g. `{ events: false }` for a tier that cannot subscribe.
   */
  groups?: Partial<Record<ConformanceGroup, boolean>>;
  /** Opt-in: the tier has `hold` and `release` (see CacheTier.hold); implies conditional fills. */
  holds?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The vitest-free helpers, kept importable from here as before.
export { gatedLoader, seededRandom, testBytes } from "./test-utils.js";

const bytes = testBytes;

/** Byte-for-byte equality, without Buffer (the suite also runs in browsers). */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual, "a value").toBeInstanceOf(Uint8Array);
  expect(actual!.byteLength).toBe(expected.byteLength);
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual![i] !== expected[i]) expect.fail(`bytes differ at offset ${i}: ${actual![i]} != ${expected[i]}`);
  }
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

async function expectCode(promise: Promise<unknown>, code: ZarrsCacheErrorCode): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, `expected a ZarrsCacheError ${code}`).toBeDefined();
  expect(isZarrsCacheError(error), `expected a ZarrsCacheError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  expect((error as Error).message.length).toBeGreaterThan(10);
}

/** The capability groups of the suite; each can be switched off (or, for opt-in ones, on) per tier. */
export type ConformanceGroup =
  | "basic"
  | "ttl"
  | "batch"
  | "prefix"
  | "lifecycle"
  | "events"
  | "transfer"
  | "fill"
  | "loadFalse"
  | "conditionalFills"
  | "holds";

/** Every group but `conditionalFills` and `holds` runs unless switched off; those two are opt-in. */
const DEFAULT_GROUPS: Record<ConformanceGroup, boolean> = {
  basic: true,
  ttl: true,
  batch: true,
  prefix: true,
  lifecycle: true,
  events: true,
  transfer: true,
  fill: true,
  loadFalse: true,
  conditionalFills: false,
  holds: false,
};

type Make = () => Promise<CacheTier>;

/** Registers the conformance tests for one tier inside the current vitest file. */
export function describeTierConformance(name: string, options: ConformanceOptions): void {
  const groups: Record<ConformanceGroup, boolean> = {
    ...DEFAULT_GROUPS,
    ttl: options.ttl ?? true,
    conditionalFills: Boolean(options.conditionalFills),
    holds: Boolean(options.holds),
    ...options.groups,
  };

  describe(`CacheTier conformance: ${name}`, () => {
    let open: CacheTier[] = [];
    const make: Make = async () => {
      const tier = await options.create();
      open.push(tier);
      return tier;
    };
    afterEach(async () => {
      for (const tier of open) await tier.close();
      open = [];
      await options.cleanup?.();
    });

    if (groups.basic) describeBasics(make, options);
    if (groups.prefix) describePrefixes(make);
    if (groups.lifecycle) describeLifecycle(make, options);
    if (groups.ttl) describeTtl(make);
    if (groups.batch) describeBatch(make);
    if (groups.events) describeEvents(make, groups.ttl);
    if (groups.transfer) describeTransfer(make);
    if (groups.fill) describeFill(make);
    if (groups.loadFalse) describeLoadFalse(make);
    if (groups.conditionalFills) {
      const settings = typeof options.conditionalFills === "object" ? options.conditionalFills : {};
      describeConditionalFills(make, settings);
    }
    if (groups.holds) describeHolds(make);
  });
}

/** Reading, writing, deleting, sizes, counters and argument checks: every tier. */
function describeBasics(make: Make, options: ConformanceOptions): void {
  const exactSize = options.exactSize ?? true;
  const large = options.largeValueBytes ?? 1 << 20;
  describe("basic", () => {
    it("answers undefined for a key it never saw", async () => {
      const tier = await make();
      expect(typeof tier.name).toBe("string");
      expect(await tier.get("never-set")).toBeUndefined();
      expect(await tier.has("never-set")).toBe(false);
      expect(await tier.delete("never-set")).toBe(false);
    });
    it("round-trips bytes exactly, as a Uint8Array", async () => {
      const tier = await make();
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await tier.set("all-bytes", all);
      const entry = await tier.get("all-bytes");
      expect(entry?.value).toBeInstanceOf(Uint8Array);
      expect(Array.from(entry!.value)).toEqual(Array.from(all));
      expect(entry?.expiresAt).toBeUndefined();
      expect(await tier.has("all-bytes")).toBe(true);
    });
    it("stores an empty value as an empty value", async () => {
      const tier = await make();
      await tier.set("empty", new Uint8Array(0));
      const entry = await tier.get("empty");
      expect(entry?.value).toBeInstanceOf(Uint8Array);
      expect(entry?.value.byteLength).toBe(0);
    });
    it(`round-trips a large value (${large} bytes) and a view into a larger buffer`, async () => {
      const tier = await make();
      const value = bytes(large, 7);
      await tier.set("large", value);
      expectBytes((await tier.get("large"))!.value, value);
      const backing = bytes(4096, 3);
      const view = backing.subarray(100, 200);
      await tier.set("view", view);
      expectBytes((await tier.get("view"))!.value, view);
    });
    it("keeps what was stored when the caller later mutates its buffer", async () => {
      const tier = await make();
      const value = bytes(64, 9);
      const original = value.slice();
      await tier.set("owned", value);
      value.fill(0);
      expectBytes((await tier.get("owned"))!.value, original);
    });
    it("handles keys with unicode, slashes, dots, spaces and control characters", async () => {
      const tier = await make();
      const keys = ["héllo/wörld/🧊", "../../etc/passwd", "a b\tc", "nul\u0000inside", "/abs/c/0/1", ".zarray", "x".repeat(300)];
      for (const [i, key] of keys.entries()) await tier.set(key, bytes(10, i + 1));
      for (const [i, key] of keys.entries()) expectBytes((await tier.get(key))!.value, bytes(10, i + 1));
    });
    it("overwrites a key and accounts its size once", async () => {
      const tier = await make();
      await tier.set("k", bytes(1000, 1));
      await tier.set("k", bytes(10, 2));
      expectBytes((await tier.get("k"))!.value, bytes(10, 2));
      if (exactSize) {
        const stats = tier.stats();
        expect(stats.entries).toBe(1);
        expect(stats.bytes).toBeGreaterThanOrEqual(10);
        expect(stats.bytes).toBeLessThan(1000);
      }
    });
    it("deletes a key", async () => {
      const tier = await make();
      await tier.set("gone", bytes(8));
      expect(await tier.delete("gone")).toBe(true);
      expect(await tier.get("gone")).toBeUndefined();
      expect(await tier.has("gone")).toBe(false);
      expect(await tier.delete("gone")).toBe(false);
      if (exactSize) expect(tier.stats().entries).toBe(0);
    });
    it("counts hits, misses and sets in stats", async () => {
      const tier = await make();
      const before = tier.stats();
      for (const counter of ["hits", "misses", "sets", "deletes", "evictions", "errors"]) {
        expect(typeof before[counter], `stats().${counter}`).toBe("number");
      }
      await tier.set("s", bytes(100));
      await tier.get("s");
      await tier.get("missing");
      const after = tier.stats();
      expect(after.hits - before.hits).toBe(1);
      expect(after.misses - before.misses).toBe(1);
      expect(after.sets - before.sets).toBe(1);
      if (exactSize) {
        expect(after.entries).toBe(1);
        expect(after.bytes).toBeGreaterThanOrEqual(100);
      }
    });
    it("handles many concurrent sets and gets", async () => {
      const tier = await make();
      await Promise.all(Array.from({ length: 100 }, (_, i) => tier.set(`c/${i}`, bytes(256, i + 1))));
      const entries = await Promise.all(Array.from({ length: 100 }, (_, i) => tier.get(`c/${i}`)));
      entries.forEach((entry, i) => expectBytes(entry!.value, bytes(256, i + 1)));
    });
    it("rejects bad input with typed errors", async () => {
      const tier = await make();
      await expectCode(tier.get(""), "INVALID_KEY");
      await expectCode(tier.get(42 as unknown as string), "INVALID_KEY");
      await expectCode(tier.set("", bytes(1)), "INVALID_KEY");
      await expectCode(tier.set("k", "not bytes" as unknown as Uint8Array), "INVALID_ARGUMENT");
      await expectCode(tier.set("k", [1, 2, 3] as unknown as Uint8Array), "INVALID_ARGUMENT");
      await expectCode(tier.set("k", bytes(1), { ttl: -5 }), "INVALID_ARGUMENT");
      await expectCode(tier.set("k", bytes(1), { ttl: Number.NaN }), "INVALID_ARGUMENT");
      await expectCode(tier.delete(""), "INVALID_KEY");
      await expectCode(tier.has(""), "INVALID_KEY");
      expect(await tier.has("k")).toBe(false);
    });
    if (options.oversizedValueBytes !== undefined) {
      const oversized = options.oversizedValueBytes;
      it(`refuses a value of ${oversized} bytes without side effects`, async () => {
        const tier = await make();
        await tier.set("keep", bytes(32, 5));
        await tier.set("big", bytes(16, 6));
        const before = tier.stats();
        await expectCode(tier.set("big", bytes(oversized, 8)), "VALUE_TOO_LARGE");
        // The old value of the key and every other entry are untouched.
        expectBytes((await tier.get("keep"))!.value, bytes(32, 5));
        expectBytes((await tier.get("big"))!.value, bytes(16, 6));
        if (exactSize) {
          expect(tier.stats().entries).toBe(before.entries);
          expect(tier.stats().bytes).toBe(before.bytes);
        }
      });
    }
  });
}

/** `keys(prefix)` and `deletePrefix`. */
function describePrefixes(make: Make): void {
  describe("prefix", () => {
    it("lists keys by prefix", async () => {
      const tier = await make();
      await tier.set("a/1", bytes(4));
      await tier.set("a/2", bytes(4));
      await tier.set("ab", bytes(4));
      await tier.set("b/1", bytes(4));
      expect(await collect(tier.keys("a/"))).toEqual(["a/1", "a/2"]);
      expect(await collect(tier.keys())).toEqual(["a/1", "a/2", "ab", "b/1"]);
      expect(await collect(tier.keys("zzz"))).toEqual([]);
    });
    it("removes a prefix with its own deletePrefix, when it has one", async () => {
      const tier = await make();
      await tier.set("p/1", bytes(8, 1));
      await tier.set("p/2", bytes(8, 2));
      await tier.set("q/1", bytes(8, 3));
      if (tier.deletePrefix) {
        expect(await tier.deletePrefix("p/")).toBe(2);
        expect(await collect(tier.keys())).toEqual(["q/1"]);
      }
    });
  });
}

/** `clear()` and `close()`. */
function describeLifecycle(make: Make, options: ConformanceOptions): void {
  const exactSize = options.exactSize ?? true;
  describe("lifecycle", () => {
    it("clears every entry", async () => {
      const tier = await make();
      for (let i = 0; i < 20; i++) await tier.set(`clear/${i}`, bytes(16, i));
      await tier.clear();
      expect(await collect(tier.keys())).toEqual([]);
      expect(await tier.get("clear/3")).toBeUndefined();
      if (exactSize) {
        expect(tier.stats().entries).toBe(0);
        expect(tier.stats().bytes).toBe(0);
      }
      await tier.set("after-clear", bytes(4));
      expect(await tier.has("after-clear")).toBe(true);
    });
    it("refuses use after close, and closes twice without error", async () => {
      const tier = await make();
      await tier.set("k", bytes(8));
      await tier.close();
      await tier.close();
      await expectCode(tier.get("k"), "CLOSED");
      await expectCode(tier.set("k", bytes(8)), "CLOSED");
    });
  });
}

/** Per-entry TTLs and the expiry they report. */
function describeTtl(make: Make): void {
  describe("ttl", () => {
    it("expires entries after their TTL and reports the expiry", async () => {
      const tier = await make();
      const t0 = Date.now();
      await tier.set("short", bytes(8), { ttl: 300 });
      await tier.set("long", bytes(8), { ttl: 60_000 });
      await tier.set("forever", bytes(8));
      const entry = await tier.get("short");
      expect(entry).toBeDefined();
      expect(entry!.expiresAt).toBeGreaterThanOrEqual(t0 + 300 - 5);
      expect(entry!.expiresAt).toBeLessThanOrEqual(Date.now() + 300 + 5);
      await sleep(450);
      expect(await tier.get("short")).toBeUndefined();
      expect(await tier.has("short")).toBe(false);
      expect(await collect(tier.keys())).toEqual(["forever", "long"]);
      const long = await tier.get("long");
      expect(long!.expiresAt! - Date.now()).toBeGreaterThan(50_000);
      expect((await tier.get("forever"))!.expiresAt).toBeUndefined();
    });

    it("replaces a TTL when a key is set again", async () => {
      const tier = await make();
      await tier.set("k", bytes(8), { ttl: 200 });
      await tier.set("k", bytes(8, 2));
      await sleep(300);
      expect(await tier.get("k")).toBeDefined();
    });
  });
}

/** The optional batched and synchronous reads agree with `get()`. */
function describeBatch(make: Make): void {
  describe("batch", () => {
    it("agrees with get() in its optional fast paths (getSync, getMany)", async () => {
      const tier = await make();
      await tier.set("p/1", bytes(8, 1));
      await tier.set("p/2", bytes(8, 2));
      if (tier.getSync) {
        expectBytes(tier.getSync("p/1")!.value, bytes(8, 1));
        expect(tier.getSync("nope")).toBeUndefined();
      }
      if (tier.getMany) {
        const many = await tier.getMany(["p/2", "nope", "p/1"]);
        expect(many).toHaveLength(3);
        expectBytes(many[0]!.value, bytes(8, 2));
        expect(many[1]).toBeUndefined();
        expectBytes(many[2]!.value, bytes(8, 1));
      }
    });
  });
}

/** `onEviction` and `onInvalidation`, when offered: subscribe, hear only well-formed events, unsubscribe. */
function describeEvents(make: Make, ttl: boolean): void {
  describe("events", () => {
    it("hands out unsubscribe functions, and an unsubscribed listener hears nothing", async () => {
      const tier = await make();
      const heard: [string, string][] = [];
      const silent: unknown[] = [];
      const stop = tier.onEviction?.((key, reason) => heard.push([key, reason]));
      const stopSilent = tier.onEviction?.((...args) => silent.push(args));
      const stopInvalidations = tier.onInvalidation?.(() => {});
      for (const unsubscribe of [stop, stopSilent, stopInvalidations]) {
        if (unsubscribe !== undefined) expect(typeof unsubscribe).toBe("function");
      }
      stopSilent?.();
      stopSilent?.(); // twice is harmless
      await tier.set("e/kept", bytes(8, 1));
      if (ttl) {
        await tier.set("e/short", bytes(8, 2), { ttl: 30 });
        await sleep(80);
        expect(await tier.get("e/short")).toBeUndefined();
      }
      await tier.delete("e/kept");
      for (const [key, reason] of heard) {
        expect(typeof key).toBe("string");
        expect(["evict", "expire"]).toContain(reason);
        // An application delete is never reported as an eviction.
        expect(key).not.toBe("e/kept");
      }
      expect(silent).toEqual([]);
      stop?.();
      stopInvalidations?.();
    });
  });
}

/** `transfer: true` hands the buffer over; it is still checked like any option. */
function describeTransfer(make: Make): void {
  describe("transfer", () => {
    it("stores a value handed over with transfer, and refuses a transfer that is not a boolean", async () => {
      const tier = await make();
      const value = bytes(256, 11);
      await tier.set("handed", value, { transfer: true });
      expectBytes((await tier.get("handed"))!.value, bytes(256, 11));
      const view = bytes(512, 12).subarray(100, 300);
      await tier.set("handed-view", view, { transfer: true });
      expectBytes((await tier.get("handed-view"))!.value, bytes(512, 12).subarray(100, 300));
      await expectCode(tier.set("k", bytes(1), { transfer: "yes" as unknown as boolean }), "INVALID_ARGUMENT");
      expect(await tier.has("k")).toBe(false);
    });
  });
}

/** Read-through fills (`fill`, `loadStartedAt`). */
function describeFill(make: Make): void {
  describe("fill", () => {
    it("stores a fill of a key it does not hold, and checks the fill options", async () => {
      const tier = await make();
      await tier.set("filled", bytes(8, 4), { fill: true, loadStartedAt: Date.now() });
      expectBytes((await tier.get("filled"))!.value, bytes(8, 4));
      await tier.set("filled-untimed", bytes(8, 5), { fill: true });
      expectBytes((await tier.get("filled-untimed"))!.value, bytes(8, 5));
      await expectCode(tier.set("k", bytes(1), { fill: true, loadStartedAt: Number.NaN }), "INVALID_ARGUMENT");
      await expectCode(tier.set("k", bytes(1), { fill: true, loadStartedAt: "now" as unknown as number }), "INVALID_ARGUMENT");
      expect(await tier.has("k")).toBe(false);
      const limit = tier.maxValueBytes;
      if (limit !== undefined) expect(Number.isInteger(limit) && limit >= 0, `maxValueBytes ${limit}`).toBe(true);
    });
  });
}

/** `get(key, { load: false })`: a plain lookup, same answers as `get`. */
function describeLoadFalse(make: Make): void {
  describe("load: false", () => {
    it("answers lookups with load: false like get(), and leaves nothing waiting", async () => {
      const tier = await make();
      expect(await tier.get("lf", { load: false })).toBeUndefined();
      // A lookup that will not load takes nothing a later loading reader would wait on.
      expect(await tier.get("lf")).toBeUndefined();
      tier.loadSettled?.("lf", "uncached");
      await tier.set("lf", bytes(16, 3));
      expectBytes((await tier.get("lf", { load: false }))!.value, bytes(16, 3));
      expectBytes((await tier.get("lf", { load: true }))!.value, bytes(16, 3));
    });
  });
}

/** A time strictly after `Date.now()` now (tombstone times are whole ms). */
async function nextMs(): Promise<number> {
  const now = Date.now();
  while (Date.now() <= now + 1) await sleep(1);
  return Date.now();
}

/** The opt-in group of conformance tests for tiers that do conditional fills. */
function describeConditionalFills(make: () => Promise<CacheTier>, settings: { tombstoneTtl?: number }): void {
  describe("conditional fills", () => {
    it("never lets a fill replace a live entry (a write, or an earlier fill)", async () => {
      const tier = await make();
      const started = Date.now();
      await tier.set("written", bytes(8, 2));
      await tier.set("written", bytes(8, 1), { fill: true, loadStartedAt: started });
      expectBytes((await tier.get("written"))!.value, bytes(8, 2));
      await tier.set("filled", bytes(8, 3), { fill: true, loadStartedAt: Date.now() });
      await tier.set("filled", bytes(8, 4), { fill: true, loadStartedAt: Date.now() });
      expectBytes((await tier.get("filled"))!.value, bytes(8, 3));
      // An application write still replaces anything.
      await tier.set("filled", bytes(8, 5));
      expectBytes((await tier.get("filled"))!.value, bytes(8, 5));
    });

    it("refuses a fill whose load began before a delete; takes one that began after it", async () => {
      const tier = await make();
      await tier.set("k", bytes(8, 1));
      const before = Date.now();
      await nextMs();
      expect(await tier.delete("k")).toBe(true);
      await tier.set("k", bytes(8, 1), { fill: true, loadStartedAt: before });
      expect(await tier.get("k")).toBeUndefined();
      // A delete of a key that was not there leaves a tombstone too.
      const early = Date.now();
      await nextMs();
      expect(await tier.delete("never-there")).toBe(false);
      await tier.set("never-there", bytes(8, 2), { fill: true, loadStartedAt: early });
      expect(await tier.get("never-there")).toBeUndefined();
      const after = await nextMs();
      await tier.set("k", bytes(8, 3), { fill: true, loadStartedAt: after });
      expectBytes((await tier.get("k"))!.value, bytes(8, 3));
    });

    it("reads a tombstone as a miss everywhere, never as a value", async () => {
      const tier = await make();
      await tier.set("t/gone", bytes(8, 1));
      await tier.set("t/kept", bytes(8, 2));
      await tier.delete("t/gone");
      expect(await tier.get("t/gone")).toBeUndefined();
      expect(await tier.has("t/gone")).toBe(false);
      expect(tier.getSync?.("t/gone")).toBeUndefined();
      if (tier.getMany) expect((await tier.getMany(["t/gone", "t/kept"]))[0]).toBeUndefined();
      expect(await collect(tier.keys("t/"))).toEqual(["t/kept"]);
      expect(await tier.delete("t/gone")).toBe(false);
      // A write after a delete is a value again.
      await tier.set("t/gone", bytes(8, 3));
      expectBytes((await tier.get("t/gone"))!.value, bytes(8, 3));
    });

    it("refuses fills under a deleted prefix and after clear() whose loads began before them", async () => {
      const tier = await make();
      if (tier.deletePrefix) {
        await tier.set("p/1", bytes(8, 1));
        const before = Date.now();
        await nextMs();
        await tier.deletePrefix("p/");
        await tier.set("p/1", bytes(8, 1), { fill: true, loadStartedAt: before });
        await tier.set("p/2", bytes(8, 2), { fill: true, loadStartedAt: before });
        // Outside the prefix: not concerned.
        await tier.set("q/1", bytes(8, 3), { fill: true, loadStartedAt: before });
        expect(await tier.get("p/1")).toBeUndefined();
        expect(await tier.get("p/2")).toBeUndefined();
        expectBytes((await tier.get("q/1"))!.value, bytes(8, 3));
        const after = await nextMs();
        await tier.set("p/1", bytes(8, 4), { fill: true, loadStartedAt: after });
        expectBytes((await tier.get("p/1"))!.value, bytes(8, 4));
      }
      const beforeClear = Date.now();
      await nextMs();
      await tier.clear();
      await tier.set("any", bytes(8, 5), { fill: true, loadStartedAt: beforeClear });
      expect(await tier.get("any")).toBeUndefined();
      await tier.set("any", bytes(8, 6), { fill: true, loadStartedAt: await nextMs() });
      expectBytes((await tier.get("any"))!.value, bytes(8, 6));
    });

    it("refuses a fill whose load began longer ago than any tombstone lasts", async () => {
      const tier = await make();
      await tier.set("old", bytes(8, 1), { fill: true, loadStartedAt: Date.now() - 24 * 3600_000 });
      expect(await tier.get("old")).toBeUndefined();
    });

    const window = settings.tombstoneTtl;
    if (window !== undefined) {
      it(`keeps tombstones for the window (${window} ms), and refuses fills older than it`, async () => {
        const tier = await make();
        const before = Date.now();
        await nextMs();
        await tier.delete("w");
        await sleep(window / 2);
        await tier.set("w", bytes(8, 1), { fill: true, loadStartedAt: before });
        expect(await tier.get("w")).toBeUndefined();
        await sleep(window / 2 + 150);
        // The tombstone may be gone now, but a load that began before it is older than the window.
        await tier.set("w", bytes(8, 1), { fill: true, loadStartedAt: before });
        expect(await tier.get("w")).toBeUndefined();
        await tier.set("w", bytes(8, 2), { fill: true, loadStartedAt: Date.now() });
        expectBytes((await tier.get("w"))!.value, bytes(8, 2));
      });
    }
  });
}
