import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";
import { createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { disk, type DiskOptions, type DiskTier } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, expectCode, same, tempDir } from "./helpers.js";

const MiB = 1024 * 1024;
const mounted: string[] = [];

/** Mounts a tmpfs (needs root with CAP_SYS_ADMIN); false where the machine does not allow it. */
function mountTmpfs(target: string, options: string): boolean {
  return spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", target]).status === 0 && mounted.push(target) > 0;
}

function unmountAll(): void {
  for (const target of mounted.splice(0)) spawnSync("umount", ["-l", target]);
}

/** Our own SQLite connection, reached only by tests that must fake a full disk where no tmpfs can be mounted. */
function connectionOf(tier: DiskTier): Database.Database {
  return (tier as unknown as { store: { connection: { db: Database.Database } } }).store.connection.db;
}

const tiers: DiskTier[] = [];
function make(options: DiskOptions): DiskTier {
  const tier = disk(options);
  tiers.push(tier);
  return tier;
}

afterEach(async () => {
  for (const tier of tiers.splice(0)) await tier.close().catch(() => undefined);
});
afterAll(() => {
  unmountAll();
  cleanupTempDirs();
});

describe("option and input validation", () => {
  it("rejects bad options in the factory with INVALID_CONFIG naming the option", async () => {
    await expectCode(() => disk(undefined as unknown as DiskOptions), "INVALID_CONFIG");
    await expectCode(() => disk({ maxBytes: MiB } as DiskOptions), "INVALID_CONFIG", '"dir"');
    await expectCode(() => disk({ dir: "", maxBytes: MiB }), "INVALID_CONFIG", '"dir"');
    await expectCode(() => disk({ dir: "a\0b", maxBytes: MiB }), "INVALID_CONFIG", '"dir"');
    await expectCode(() => disk({ dir: "x" } as DiskOptions), "INVALID_CONFIG", '"maxBytes"');
    await expectCode(() => disk({ dir: "x", maxBytes: 100 }), "INVALID_CONFIG", '"maxBytes"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, ttl: 0 }), "INVALID_CONFIG", '"ttl"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, fileThreshold: 0 }), "INVALID_CONFIG", '"fileThreshold"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, maxKeyLength: 1.5 }), "INVALID_CONFIG", '"maxKeyLength"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, maxValueBytes: 2 ** 30 }), "INVALID_CONFIG", '"maxValueBytes"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, name: "" }), "INVALID_CONFIG", '"name"');
    expect(fs.existsSync("x")).toBe(false); // the factory touches nothing
  });

  it("refuses keys and values over the documented limits, writing nothing", async () => {
    const dir = tempDir("limits");
    const tier = make({ dir, maxBytes: MiB, maxKeyLength: 20, maxValueBytes: 300_000, fileThreshold: 100_000 });
    await expectCode(tier.set("k".repeat(21), bytes(1)), "INVALID_KEY", "20");
    await expectCode(tier.get("k".repeat(21)), "INVALID_KEY");
    await tier.set("k".repeat(20), bytes(1));
    await expectCode(tier.set("big", bytes(300_001)), "VALUE_TOO_LARGE", "300000");
    await expectCode(tier.set("k", bytes(1), { ttl: -1 }), "INVALID_ARGUMENT");
    await expectCode(tier.keys(42 as unknown as string)[Symbol.asyncIterator]().next(), "INVALID_ARGUMENT");
    await expectCode(tier.deletePrefix(null as unknown as string), "INVALID_ARGUMENT");
    expect(fs.readdirSync(path.join(dir, "blobs"))).toEqual([]);
    expect(tier.stats().entries).toBe(1);
  });

  it("refuses a value larger than maxBytes itself (with its key and overhead)", async () => {
    const tier = make({ dir: tempDir("too-big"), maxBytes: 64 * 1024 });
    await expectCode(tier.set("x", bytes(64 * 1024 - 10)), "VALUE_TOO_LARGE");
    await tier.set("x", bytes(60 * 1024));
    expect(tier.stats().entries).toBe(1);
  });
});

describe("a bad directory fails at build() with a message naming it", () => {
  it("a path under a regular file", async () => {
    const file = path.join(tempDir("dir-file"), "plain-file");
    fs.writeFileSync(file, "x");
    const dir = path.join(file, "cache");
    const builder = createCache().tier(memory({ maxBytes: MiB })).tier(disk({ dir, maxBytes: MiB }));
    await expectCode(() => builder.build(), "INVALID_CONFIG", dir);
  });

  it("an existing regular file as dir", async () => {
    const file = path.join(tempDir("dir-is-file"), "cache");
    fs.writeFileSync(file, "x");
    const error = await expectCode(() => createCache().tier(disk({ dir: file, maxBytes: MiB })).build(), "INVALID_CONFIG", file);
    expect(error.message).toContain("not a directory");
  });

  it("a read-only directory", async (context) => {
    const base = tempDir("read-only");
    let readOnly: string;
    if (process.getuid?.() !== 0) {
      readOnly = path.join(base, "ro");
      fs.mkdirSync(readOnly, { mode: 0o555 });
    } else {
      // Root ignores permission bits, so a read-only mount is the only real refusal.
      readOnly = path.join(base, "mnt");
      fs.mkdirSync(readOnly);
      if (!mountTmpfs(readOnly, "ro,size=1m")) {
        console.warn("\n⚠️  SKIPPED read-only directory test: running as root and cannot mount a read-only tmpfs here\n");
        context.skip();
      }
    }
    await expectCode(() => createCache().tier(disk({ dir: readOnly, maxBytes: MiB })).build(), "INVALID_CONFIG", readOnly);
    const nested = path.join(readOnly, "cache");
    await expectCode(() => createCache().tier(disk({ dir: nested, maxBytes: MiB })).build(), "INVALID_CONFIG", nested);
  });

  it("an unopened tier used directly reports the same error on first use", async () => {
    const file = path.join(tempDir("lazy"), "f");
    fs.writeFileSync(file, "x");
    const tier = disk({ dir: path.join(file, "sub"), maxBytes: MiB });
    await expectCode(tier.get("k"), "INVALID_CONFIG", file);
  });
});

describe("a full disk during a backfill fails the tier, not the read", () => {
  it("values that no longer fit (file and database) reject with IO_ERROR and are counted; reads go on", async () => {
    const base = tempDir("enospc");
    const dir = path.join(base, "mnt");
    fs.mkdirSync(dir);
    const realFullDisk = mountTmpfs(dir, "size=3m");
    if (!realFullDisk) console.warn("\n⚠️  cannot mount a tmpfs here: faking a full disk (value files: a file where the blob folder was; database: max_page_count)\n");

    const tier = make({ dir, maxBytes: 64 * MiB, fileThreshold: 64 * 1024 });
    tier.open();
    await tier.set("small/keep", bytes(5000, 1));
    await tier.set("big/keep", bytes(200_000, 2));
    if (!realFullDisk) {
      fs.rmSync(path.join(dir, "blobs"), { recursive: true });
      fs.writeFileSync(path.join(dir, "blobs"), "in the way");
      const db = connectionOf(tier);
      db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true })}`);
    }

    // Large values (files) until the disk is full.
    let fileError: unknown;
    for (let i = 0; i < 100 && fileError === undefined; i++) {
      await tier.set(`big/${i}`, bytes(256 * 1024, i)).catch((e: unknown) => (fileError = e));
    }
    expect(isZarrsCacheError(fileError, "IO_ERROR"), String(fileError)).toBe(true);
    expect((fileError as { cause?: { code?: string } }).cause?.code).toBe(realFullDisk ? "ENOSPC" : "ENOTDIR");

    // Small values (inside the database) until SQLite reports the disk full.
    let dbError: unknown;
    for (let i = 0; i < 3000 && dbError === undefined; i++) {
      await tier.set(`small/${i}`, bytes(8192, i)).catch((e: unknown) => (dbError = e));
    }
    expect(isZarrsCacheError(dbError, "IO_ERROR"), String(dbError)).toBe(true);
    expect((dbError as { cause?: { code?: string } }).cause?.code).toBe("SQLITE_FULL");
    const errorsBefore = tier.stats().errors;
    expect(errorsBefore).toBeGreaterThanOrEqual(2);

    // What was stored is still served.
    expect(same((await tier.get("small/keep"))?.value, bytes(5000, 1))).toBe(true);
    if (realFullDisk) expect(same((await tier.get("big/keep"))?.value, bytes(200_000, 2))).toBe(true);
    else expect(await tier.get("big/keep")).toBeUndefined(); // its folder was replaced by a file: gone, a miss

    // In a TieredCache the failed backfill is reported, and the caller still gets its value.
    const cache = createCache().tier(memory({ maxBytes: 4 * MiB })).tier(tier).build();
    const events: { tier?: string; error: unknown }[] = [];
    cache.events.on("error", (event) => events.push(event));
    const loaded = bytes(300_000, 99);
    const value = await cache.getOrLoad("from/upstream", async () => loaded);
    expect(same(value, loaded)).toBe(true);
    await cache.flush();
    expect(cache.stats().errors).toBeGreaterThanOrEqual(1);
    expect(events.some((e) => e.tier === "disk" && isZarrsCacheError(e.error, "IO_ERROR"))).toBe(true);
    expect(tier.stats().errors).toBeGreaterThan(errorsBefore);
    expect(same(await cache.getOrLoad("from/upstream", async () => undefined), loaded)).toBe(true); // now from memory
    tiers.splice(tiers.indexOf(tier), 1);
    await cache.close();
  });
});
