/**
 * The opt-in conformance group for tiers with holds (`CacheTier.hold`), part of
 * `@zarrs-cache/core/testing` (see `describeTierConformance`, option `holds`).
 */
import { describe, expect, it } from "vitest";
import type { CacheTier } from "./types.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const value = (n: number) => new Uint8Array(8).fill(n);

/** A time strictly after `Date.now()` now (holds are whole ms). */
async function nextMs(): Promise<number> {
  const now = Date.now();
  while (Date.now() <= now + 1) await sleep(1);
  return Date.now();
}

async function first(tier: CacheTier, key: string): Promise<number | undefined> {
  return (await tier.get(key))?.value[0];
}

export function describeHolds(make: () => Promise<CacheTier>): void {
  describe("holds", () => {
    it("refuses a held key's fills, timed or not, and keeps what it holds; application writes still land", async () => {
      const tier = await make();
      await tier.set("kept", value(9), { fill: true, loadStartedAt: Date.now() });
      await tier.hold!({ key: "kept" }, Date.now() + 60_000);
      expect(await first(tier, "kept")).toBe(9);
      await tier.hold!({ key: "k" }, Date.now() + 60_000);
      await tier.set("k", value(2), { fill: true, loadStartedAt: await nextMs() });
      await tier.set("k", value(2), { fill: true });
      expect(await tier.get("k")).toBeUndefined();
      await tier.set("other", value(3), { fill: true, loadStartedAt: Date.now() });
      expect(await first(tier, "other")).toBe(3);
      await tier.set("k", value(4));
      expect(await first(tier, "k")).toBe(4);
    });

    it("outlives delete, deletePrefix and clear; a prefix hold covers every key under it", async () => {
      const tier = await make();
      await tier.hold!({ key: "a/k" }, Date.now() + 60_000);
      await tier.hold!({ prefix: "p/" }, Date.now() + 60_000);
      await tier.delete("a/k");
      await tier.deletePrefix?.("a/");
      await tier.clear();
      const now = await nextMs();
      for (const key of ["a/k", "p/1", "p/2/3", "q/1"]) await tier.set(key, value(5), { fill: true, loadStartedAt: now });
      expect(await tier.get("a/k")).toBeUndefined();
      expect(await tier.get("p/1")).toBeUndefined();
      expect(await tier.get("p/2/3")).toBeUndefined();
      expect(await first(tier, "q/1")).toBe(5);
    });

    it("a release ends the hold; fills whose load began before it stay refused", async () => {
      const tier = await make();
      const before = Date.now();
      await tier.hold!({ key: "k" }, Date.now() + 60_000);
      await nextMs();
      await tier.release!({ key: "k" });
      await tier.set("k", value(1), { fill: true, loadStartedAt: before });
      expect(await tier.get("k")).toBeUndefined();
      await tier.set("k", value(2), { fill: true, loadStartedAt: await nextMs() });
      expect(await first(tier, "k")).toBe(2);
    });

    it("ends by itself at `until`", async () => {
      const tier = await make();
      await tier.hold!({ key: "k" }, Date.now() + 100);
      await sleep(150);
      await tier.set("k", value(1), { fill: true, loadStartedAt: await nextMs() });
      expect(await first(tier, "k")).toBe(1);
    });
  });
}
