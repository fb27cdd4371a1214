import { createCache, type TieredCache, type TieredCacheOptions } from "@zarrs-cache/core";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import path from "node:path";
import Database from "better-sqlite3";
import { gatedLoader } from "@zarrs-cache/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTempDirs, tempDir } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (...values: number[]) => new Uint8Array(values);
const MiB = 1024 * 1024;

const open: TieredCache[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
  cleanupTempDirs();
});

/** One process's cache over the shared directory: its own memory level, the directory below it. */
function processOn(dir: string, options: TieredCacheOptions = {}): TieredCache {
  const cache = createCache(options)
    .tier(memory({ maxBytes: MiB }))
    .tier(disk({ dir, maxBytes: 16 * MiB }))
    .build();
  open.push(cache);
  return cache;
}

function diskOf(cache: TieredCache): DiskTier {
  return cache.levels[1] as DiskTier;
}

/** Key and prefix tombstones in the directory's database. */
function tombstoneRows(dir: string): number {
  const db = new Database(path.join(dir, "zarrs-cache.sqlite"), { readonly: true });
  try {
    const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return count("tombstones") + count("prefix_tombstones");
  } finally {
    db.close();
  }
}

/** Lets deferred fills of lower tiers (next macrotask) land. */
const settle = () => sleep(30);

describe("conditional fills between processes sharing a directory", () => {
  it("a slow load in one process does not overwrite another process's write", async () => {
    const dir = tempDir("fills");
    const slow = processOn(dir);
    const writer = processOn(dir);
    const loader = gatedLoader(bytes(1));
    const read = slow.getOrLoad("k", loader.load);
    while (!loader.started()) await sleep(1);
    await sleep(2);
    await writer.write("k", bytes(2), () => undefined);
    loader.release();
    expect((await read)?.[0]).toBe(1);
    await settle();
    expect((await diskOf(writer).get("k"))?.value[0]).toBe(2);
    expect((await processOn(dir).getOrLoad("k", async () => bytes(99)))?.[0]).toBe(2);
    expect(diskOf(slow).stats().fillsRefused).toBe(1);
  });

  it("write-around deletes, invalidate(prefix) and clear() of one process refuse the other's older fills", async () => {
    const dir = tempDir("fills");
    const slow = processOn(dir);
    const writer = processOn(dir, { writePolicy: "write-around" });
    const loads = ["a/k", "b/k", "c/k"].map((key) => ({ key, loader: gatedLoader(bytes(1)) }));
    const reads = loads.map(({ key, loader }) => slow.getOrLoad(key, loader.load));
    while (!loads.every(({ loader }) => loader.started())) await sleep(1);
    await sleep(2);
    await writer.write("a/k", bytes(2), () => undefined);
    await writer.invalidate("b/");
    await writer.clear();
    for (const { loader } of loads) loader.release();
    await Promise.all(reads);
    await settle();
    for (const { key } of loads) expect(await diskOf(writer).get(key)).toBeUndefined();
    expect(diskOf(slow).stats().fillsRefused).toBe(3);
    // A load that begins after the changes fills as usual.
    expect((await slow.getOrLoad("a/other", async () => bytes(3)))?.[0]).toBe(3);
    await settle();
    expect((await diskOf(writer).get("a/other"))?.value[0]).toBe(3);
  });

  it("tombstones survive reopening the directory, and are pruned once older than tombstoneTtl", async () => {
    const dir = tempDir("fills");
    const first = disk({ dir, maxBytes: 16 * MiB, tombstoneTtl: 300 });
    const started = Date.now();
    await sleep(2);
    await first.delete("k");
    await first.deletePrefix("p/");
    await first.close();
    expect(tombstoneRows(dir)).toBe(2);
    const reopened = disk({ dir, maxBytes: 16 * MiB, tombstoneTtl: 300 });
    await reopened.set("k", bytes(1), { fill: true, loadStartedAt: started });
    await reopened.set("p/1", bytes(1), { fill: true, loadStartedAt: started });
    expect(await reopened.get("k")).toBeUndefined();
    expect(await reopened.get("p/1")).toBeUndefined();
    await sleep(350);
    // Older than the window now: refused whether or not its tombstone is still there.
    await reopened.set("k", bytes(1), { fill: true, loadStartedAt: started });
    expect(await reopened.get("k")).toBeUndefined();
    expect(reopened.stats().fillsRefused).toBe(3);
    await reopened.close(); // its last maintenance prunes what is past the window
    expect(tombstoneRows(dir)).toBe(0);
  });

  it("states its value limit, and refuses a bad tombstoneTtl naming it", () => {
    const dir = tempDir("fills");
    const tier = disk({ dir, maxBytes: 16 * MiB, maxValueBytes: 3 * MiB });
    expect(tier.maxValueBytes).toBe(3 * MiB);
    expect(disk({ dir, maxBytes: MiB }).maxValueBytes).toBe(MiB);
    for (const bad of [0, -5, 2.5, "1000"]) {
      expect(() => disk({ dir, maxBytes: MiB, tombstoneTtl: bad as number })).toThrow(/tombstoneTtl/);
    }
  });
});
