import fs from "node:fs";
import path from "node:path";
import { createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkValue, makeValue } from "./fixtures/values.mjs";
import { cleanupTempDirs, mountTmpfs, resizeTmpfs, tempDir, unmountAll } from "./helpers.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const tiers: DiskTier[] = [];
afterEach(async () => {
  for (const tier of tiers.splice(0)) await tier.close().catch(() => undefined);
});
afterAll(() => {
  unmountAll();
  cleanupTempDirs();
});

/** A directory on a tmpfs of `size`, or undefined (with a loud message) where none can be mounted; never skipped in CI. */
function smallFileSystem(size: string): string | undefined {
  const dir = path.join(tempDir("full"), "mnt");
  fs.mkdirSync(dir);
  if (process.getuid?.() === 0 && mountTmpfs(dir, `size=${size}`)) return dir;
  if (process.env.CI === "true") {
    throw new Error("CI: the full-disk tests need a tmpfs mounted by the test (run as root with CAP_SYS_ADMIN)");
  }
  console.warn("\n⚠️  SKIPPED full-disk tests: they mount a tmpfs and need root (CAP_SYS_ADMIN); run them as root or in CI\n");
  return undefined;
}

/** Fills the rest of the file system with a file that is not the cache's, as another program would. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, "w");
  try {
    const block = Buffer.alloc(64 * KiB, 1);
    for (;;) fs.writeSync(fd, block);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes values on both sides of the file threshold; returns the errors of the writes that failed. */
async function writeMany(tier: DiskTier, label: string, count: number): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${label}/${i}`;
    await tier.set(key, makeValue(key, i, i % 5 === 0 ? 150 * KiB : 8 * KiB)).catch((error: unknown) => failures.push(error));
  }
  return failures;
}

async function expectIntact(tier: DiskTier, label: string, count: number): Promise<number> {
  let found = 0;
  for (let i = 0; i < count; i++) {
    const entry = await tier.get(`${label}/${i}`);
    if (entry === undefined) continue;
    expect(checkValue(`${label}/${i}`, entry.value), `${label}/${i}`).toEqual({ ok: true, version: i });
    found++;
  }
  return found;
}

describe("a full file system is pressure, not a dead level", () => {
  it("maxBytes above the free space: the bound in force shrinks and writes go on; it grows back when space returns", async (context) => {
    const dir = smallFileSystem("2m");
    if (dir === undefined) return context.skip();
    const tier = disk({ dir, maxBytes: 64 * MiB, fileThreshold: 64 * KiB });
    tiers.push(tier);
    tier.open();

    // Before: after about 2 MiB every write failed with SQLITE_FULL or ENOSPC, and so did delete and clear.
    const failures = await writeMany(tier, "a", 300);
    for (const failure of failures) expect(isZarrsCacheError(failure, "IO_ERROR"), String(failure)).toBe(true);
    expect(failures.length).toBeLessThanOrEqual(5);
    const stats = tier.stats();
    expect(stats.diskFull).toBeGreaterThanOrEqual(1);
    expect(stats.sharedMaxBytes).toBe(64 * MiB);
    expect(stats.effectiveMaxBytes).toBeLessThan(2 * MiB);
    expect(stats.bytes).toBeLessThanOrEqual(stats.effectiveMaxBytes);
    // The most recent writes are there and every entry served is exactly what was written.
    expect(checkValue("a/299", (await tier.get("a/299"))?.value)).toEqual({ ok: true, version: 299 });
    expect(await expectIntact(tier, "a", 300)).toBeGreaterThan(20);

    // Space comes back: the bound grows again (by half the free space at a time, at most once a second).
    const shrunk = tier.stats().effectiveMaxBytes;
    resizeTmpfs(dir, "16m");
    await sleep(1100);
    await writeMany(tier, "b", 40);
    expect(tier.stats().effectiveMaxBytes).toBeGreaterThan(shrunk + MiB);
    expect(await expectIntact(tier, "b", 40)).toBe(40);
  });

  it("values all inside the database (no value files to free first): the directory starts over once, writes go on", async (context) => {
    const dir = smallFileSystem("2m");
    if (dir === undefined) return context.skip();
    const tier = disk({ dir, maxBytes: 64 * MiB, fileThreshold: 16 * MiB });
    tiers.push(tier);
    tier.open();
    const failures: unknown[] = [];
    for (let i = 0; i < 600; i++) {
      const key = `inline/${i}`;
      await tier.set(key, makeValue(key, i, 8 * KiB)).catch((error: unknown) => failures.push(error));
    }
    // Before: after the first SQLITE_FULL every operation failed, the lock for starting over included.
    for (const failure of failures) expect(isZarrsCacheError(failure, "IO_ERROR"), String(failure)).toBe(true);
    expect(failures.length).toBeLessThanOrEqual(5);
    expect(tier.stats().rebuilds).toBeGreaterThanOrEqual(1);
    expect(tier.stats().effectiveMaxBytes).toBeLessThan(2 * MiB);
    for (let i = 590; i < 600; i++) {
      expect(checkValue(`inline/${i}`, (await tier.get(`inline/${i}`))?.value), `inline/${i}`).toEqual({ ok: true, version: i });
    }
    await tier.delete("inline/599");
    await tier.clear();
    expect(tier.stats().entries).toBe(0);
  });

  it("delete, deletePrefix and clear work on a file system another program filled", async (context) => {
    const dir = smallFileSystem("3m");
    if (dir === undefined) return context.skip();
    const tier = disk({ dir, maxBytes: 64 * MiB, fileThreshold: 64 * KiB });
    tiers.push(tier);
    expect(await writeMany(tier, "a", 40)).toEqual([]);
    fillUp(path.join(dir, "someone-else"));

    // Each removal meets a full file system: the other program takes whatever the previous one freed.
    expect(await tier.delete("a/1")).toBe(true);
    expect(await tier.get("a/1")).toBeUndefined();
    expect(tier.stats().diskFull).toBe(1);
    fillUp(path.join(dir, "someone-else-2"));
    let live = 0;
    for await (const _ of tier.keys("a/3")) live++; // a/3 and a/30..a/39, less any the first relief evicted
    expect(live).toBeGreaterThan(0);
    expect(await tier.deletePrefix("a/3")).toBe(live);
    expect(await tier.has("a/3")).toBe(false);
    expect(await tier.has("a/31")).toBe(false);
    fillUp(path.join(dir, "someone-else-3"));
    await tier.clear();
    expect(tier.stats().entries).toBe(0);
    expect(tier.stats().diskFull).toBeGreaterThanOrEqual(2);
    expect(tier.stats().errors).toBe(0);
    for (let i = 0; i < 40; i++) expect(await tier.get(`a/${i}`)).toBeUndefined();
    expect(fs.readdirSync(path.join(dir, "blobs"))).toEqual([]);

    // Once the other program's files are gone, writes work again.
    for (const name of ["someone-else", "someone-else-2", "someone-else-3"]) fs.rmSync(path.join(dir, name));
    expect(await writeMany(tier, "b", 10)).toEqual([]);
    expect(await expectIntact(tier, "b", 10)).toBe(10);
  });

  it("in a TieredCache, reads are served while the disk level is out of space", async (context) => {
    const dir = smallFileSystem("2m");
    if (dir === undefined) return context.skip();
    const tier = disk({ dir, maxBytes: 64 * MiB, fileThreshold: 64 * KiB });
    const cache = createCache()
      .tier(memory({ maxBytes: 4 * MiB }))
      .tier(tier)
      .build();
    fillUp(path.join(dir, "someone-else"));
    const errors: unknown[] = [];
    cache.events.on("error", (event) => errors.push(event.error));
    for (let i = 0; i < 20; i++) {
      const key = `up/${i}`;
      const value = await cache.getOrLoad(key, async () => makeValue(key, i, 100 * KiB));
      expect(checkValue(key, value)).toEqual({ ok: true, version: i });
    }
    await cache.flush();
    for (const error of errors) expect(isZarrsCacheError(error, "IO_ERROR"), String(error)).toBe(true);
    expect(tier.stats().diskFull).toBeGreaterThanOrEqual(1);
    await cache.close();
  });
});
