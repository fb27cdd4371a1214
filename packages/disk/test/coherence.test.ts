import path from "node:path";
import Database from "better-sqlite3";
import type { TierInvalidation } from "@zarrs-cache/core";
import { disk, type DiskOptions, type DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, tempDir } from "./helpers.js";

// Two disk tiers on one directory stand for two processes (each writes the change log under its
// own id); packages/hybrid/test/fleet.test.ts does the same with real processes and TieredCaches.
const tiers: DiskTier[] = [];
function open(dir: string, options: Partial<DiskOptions> = {}): DiskTier {
  const tier = disk({ dir, maxBytes: 16 * 1024 * 1024, coherence: { interval: 20 }, ...options });
  tier.open();
  tiers.push(tier);
  return tier;
}

afterEach(async () => {
  for (const tier of tiers.splice(0)) await tier.close();
  cleanupTempDirs();
});

function listen(tier: DiskTier): TierInvalidation[] {
  const heard: TierInvalidation[] = [];
  tier.onInvalidation((message) => heard.push(message));
  return heard;
}

async function until(check: () => boolean, ms = 1000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return Date.now() - started;
}

describe("coherence: other processes' changes reported through onInvalidation", () => {
  it("writes, deletes, prefix deletes and clears of another tier arrive; its fills and our own changes do not", async () => {
    const dir = tempDir("coherent");
    const [a, b] = [open(dir), open(dir)];
    const heard = listen(a);
    await a.set("own", bytes(4, 1)); // our own change: never reported back
    await b.set("filled", bytes(4, 2), { fill: true, loadStartedAt: Date.now() }); // a fill: nobody's copy is stale
    await b.set("x/1", bytes(4, 3));
    await b.delete("x/2");
    await until(() => heard.length >= 1);
    await b.deletePrefix("x/");
    await until(() => heard.some((m) => m.kind === "prefix"));
    await b.clear();
    await until(() => heard.some((m) => m.kind === "all"));
    const keys = heard.flatMap((m) => (m.kind === "keys" ? m.keys : []));
    expect(keys.sort()).toEqual(["x/1", "x/2"]);
    expect(heard).toContainEqual({ kind: "prefix", prefix: "x/" });
    expect(keys).not.toContain("own");
    expect(keys).not.toContain("filled");
    expect(a.stats().remoteInvalidations).toBe(heard.length);
  });

  it("arrives within the poll interval", async () => {
    const dir = tempDir("coherent");
    const a = open(dir, { coherence: { interval: 100 } });
    const b = open(dir);
    const heard = listen(a);
    await new Promise((r) => setTimeout(r, 30));
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      await b.set(`k/${i}`, bytes(8, i));
      delays.push(await until(() => heard.some((m) => m.kind === "keys" && m.keys.includes(`k/${i}`))));
    }
    // The bound is the interval plus a timer's lateness (which a loaded machine stretches): the median stays inside it.
    expect(delays.sort((x, y) => x - y)[2]).toBeLessThan(250);
  });

  it("coherence: false reports nothing", async () => {
    const dir = tempDir("coherent");
    const a = open(dir, { coherence: false });
    const b = open(dir);
    const heard = listen(a);
    await b.set("k", bytes(4, 1));
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toEqual([]);
  });

  it("a log it could not follow (rows pruned unread) drops everything above: { kind: 'all' }", async () => {
    const dir = tempDir("coherent");
    const a = open(dir, { coherence: { interval: 30 } });
    const b = open(dir);
    const heard = listen(a);
    // Stand-in for a process that stalled longer than the log is kept: rows written and pruned unseen.
    await b.set("k", bytes(4, 1));
    const db = new Database(path.join(dir, "zarrs-cache.sqlite"));
    db.prepare("DELETE FROM changes").run();
    db.close();
    await until(() => heard.length > 0);
    expect(heard).toEqual([{ kind: "all" }]);
    expect(a.stats().feedResyncs).toBe(1);
    // And it follows the log again afterwards.
    await b.set("k2", bytes(4, 1));
    await until(() => heard.length > 1);
    expect(heard[1]).toEqual({ kind: "keys", keys: ["k2"] });
  });

  it("the log is pruned with the tombstones (tombstoneTtl)", async () => {
    const dir = tempDir("coherent");
    const a = open(dir, { tombstoneTtl: 50 });
    for (let i = 0; i < 20; i++) await a.set(`k/${i}`, bytes(4, i));
    const count = () => {
      const db = new Database(path.join(dir, "zarrs-cache.sqlite"), { readonly: true });
      const n = db.prepare("SELECT count(*) FROM changes").pluck().get() as number;
      db.close();
      return n;
    };
    expect(count()).toBe(20);
    await until(() => count() === 0, 3000);
  });
});
