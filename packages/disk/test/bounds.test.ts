import fs from "node:fs";
import path from "node:path";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, directoryBytes, same, tempDir } from "./helpers.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const open: DiskTier[] = [];
function tier(dir: string, maxBytes: number, extra: { ttl?: number } = {}): DiskTier {
  const t = disk({ dir, maxBytes, fileThreshold: 64 * KiB, ...extra });
  t.open();
  open.push(t);
  return t;
}

afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  cleanupTempDirs();
});

describe("maxBytes holds for the directory", () => {
  it("after 25 reopenings each writing far more than the bound", async () => {
    const dir = tempDir("reopen");
    const maxBytes = 2 * MiB;
    let written = 0;
    for (let run = 0; run < 25; run++) {
      const t = tier(dir, maxBytes);
      for (let i = 0; i < 24; i++) {
        // Sizes on both sides of the file threshold.
        const size = i % 3 === 0 ? 150 * KiB : 3 * KiB + ((run * 24 + i) % 40) * KiB;
        await t.set(`run${run}/v${i}`, bytes(size, run * 100 + i));
        written += size;
      }
      const stats = t.stats();
      expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
      expect(stats.bytes).toBeGreaterThan(maxBytes / 2); // it is used, not emptied
      await t.close();
      open.pop();
      // On disk too: the bound plus the WAL (at most maxBytes / 4 here) and page slack.
      expect(directoryBytes(dir), `after run ${run}`).toBeLessThan(maxBytes * 1.6);
    }
    expect(written).toBeGreaterThan(15 * maxBytes);
    // The most recent run's entries are the ones kept.
    const t = tier(dir, maxBytes);
    expect(same((await t.get("run24/v23"))?.value, bytes(3 * KiB + ((24 * 24 + 23) % 40) * KiB, 2423))).toBe(true);
    expect(await t.get("run0/v0")).toBeUndefined();
  });

  it("two tiers on one directory share one bound and one count", async () => {
    const dir = tempDir("shared");
    const a = tier(dir, MiB);
    const b = tier(dir, MiB);
    for (let i = 0; i < 40; i++) await (i % 2 ? a : b).set(`k${i}`, bytes(50 * KiB, i));
    expect(a.stats().bytes).toBe(b.stats().bytes);
    expect(a.stats().entries).toBe(b.stats().entries);
    expect(a.stats().bytes).toBeLessThanOrEqual(MiB);
    expect(a.stats().evictions + b.stats().evictions).toBe(40 - a.stats().entries!);
  });

  it("reopening with a smaller maxBytes shrinks the directory at open", async () => {
    const dir = tempDir("shrink");
    let t = tier(dir, 8 * MiB);
    for (let i = 0; i < 60; i++) await t.set(`k${i}`, bytes(i % 2 ? 100 * KiB : 20 * KiB, i));
    await t.close();
    const before = directoryBytes(dir);
    expect(before).toBeGreaterThan(3 * MiB);

    t = tier(dir, MiB);
    expect(t.stats().bytes).toBeLessThanOrEqual(MiB);
    expect(t.stats().evictions).toBeGreaterThan(0);
    await t.close();
    expect(directoryBytes(dir)).toBeLessThan(1.6 * MiB);
  });
});

describe("eviction by least recent use", () => {
  it("evicts the entries read least recently, also after a reopen", async () => {
    const dir = tempDir("lru");
    let t = tier(dir, 200 * KiB);
    for (let i = 0; i < 4; i++) await t.set(`k${i}`, bytes(40 * KiB, i));
    await sleep(5);
    expect(await t.get("k0")).toBeDefined(); // k0 is now more recent than k1..k3
    await t.close(); // queued access times are written at close
    t = tier(dir, 200 * KiB);
    await sleep(5);
    await t.set("k4", bytes(40 * KiB, 4));
    await t.set("k5", bytes(40 * KiB, 5));
    // Each new entry pushes the total over: the least recently used one goes (k1, then k2), not k0.
    expect(await t.has("k0")).toBe(true);
    expect(await t.has("k1")).toBe(false);
    expect(await t.has("k2")).toBe(false);
    expect(await t.has("k3")).toBe(true);
    expect(t.stats().evictions).toBe(2);
  });
});

describe("TTL", () => {
  it("expires entries, reports expiresAt, and reclaims expired entries (counted)", async () => {
    const dir = tempDir("ttl");
    const t = tier(dir, MiB, { ttl: 60_000 });
    const t0 = Date.now();
    await t.set("default-ttl", bytes(100, 1));
    await t.set("short", bytes(100, 2), { ttl: 100 });
    await t.set("short-file", bytes(100 * KiB, 3), { ttl: 100 });
    expect((await t.get("default-ttl"))!.expiresAt).toBeGreaterThanOrEqual(t0 + 60_000);
    expect(fs.readdirSync(path.join(dir, "blobs"))).toHaveLength(1);
    await sleep(1100); // past the TTL and past the once-a-second sweep
    expect(await t.get("short")).toBeUndefined();
    // Reclaimed by the once-a-second maintenance or, at the latest, by a write in passing.
    await t.set("trigger", bytes(10, 4));
    expect(t.stats().entries).toBe(2);
    expect(t.stats().expired).toBe(2);
    expect(fs.readdirSync(path.join(dir, "blobs"))).toHaveLength(0);
  });

  it("expired entries are reclaimed at open too", async () => {
    const dir = tempDir("ttl-open");
    let t = tier(dir, MiB);
    await t.set("short", bytes(100, 2), { ttl: 50 });
    await t.set("forever", bytes(100, 3));
    await t.close();
    await sleep(80);
    t = tier(dir, MiB);
    expect(t.stats().expired).toBe(1);
    expect(t.stats().entries).toBe(1);
  });
});

describe("persistence", () => {
  it("a second tier (a second run) reads what the first one stored", async () => {
    const dir = tempDir("persist");
    const first = tier(dir, MiB);
    await first.set("chunk/0", bytes(8 * KiB, 1));
    await first.set("chunk/1", bytes(300 * KiB, 2));
    await first.close();
    const second = tier(dir, MiB);
    expect(same((await second.get("chunk/0"))?.value, bytes(8 * KiB, 1))).toBe(true);
    expect(same((await second.get("chunk/1"))?.value, bytes(300 * KiB, 2))).toBe(true);
    expect(second.getSync("chunk/0")).toBeDefined();
    expect((await second.getMany(["chunk/1", "nope"])).map((e) => e?.value.byteLength)).toEqual([300 * KiB, undefined]);
    expect(second.stats()).toMatchObject({ hits: 4, misses: 1, entries: 2 });
  });

  it("overwriting and deleting large values removes their files", async () => {
    const dir = tempDir("files");
    const t = tier(dir, 4 * MiB);
    const files = () => fs.readdirSync(path.join(dir, "blobs")).length;
    await t.set("a", bytes(100 * KiB, 1));
    await t.set("a", bytes(120 * KiB, 2));
    expect(files()).toBe(1);
    await t.set("a", bytes(10, 3)); // now inline
    expect(files()).toBe(0);
    for (let i = 0; i < 5; i++) await t.set(`p/${i}`, bytes(100 * KiB, i));
    expect(await t.deletePrefix("p/")).toBe(5);
    expect(files()).toBe(0);
    await t.set("b", bytes(100 * KiB, 1));
    expect(await t.delete("b")).toBe(true);
    await t.set("c", bytes(100 * KiB, 1));
    await t.clear();
    expect(files()).toBe(0);
    expect(t.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});
