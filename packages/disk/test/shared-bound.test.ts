import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, closeOpenedTiers, expectCode, openedTier, tempDir } from "./helpers.js";

const KiB = 1024;
const MiB = 1024 * KiB;

const tier = openedTier;

afterEach(async () => {
  await closeOpenedTiers();
  cleanupTempDirs();
});

async function writeMany(t: DiskTier, label: string, total: number): Promise<void> {
  for (let i = 0, written = 0; written < total; i++) {
    const size = i % 3 === 0 ? 90 * KiB : 20 * KiB;
    await t.set(`${label}/${i}`, bytes(size, i));
    written += size;
  }
}

describe("one bound per directory: the smallest maxBytes of the processes using it", () => {
  it("a tier with a larger maxBytes enforces the smaller bound of another open tier, and its own once that one closes", async () => {
    const dir = tempDir("bound-two");
    const large = tier(dir, 4 * MiB);
    const small = tier(dir, MiB);
    expect(large.stats()).toMatchObject({ maxBytes: 4 * MiB, sharedMaxBytes: MiB, effectiveMaxBytes: MiB });
    await writeMany(large, "large", 6 * MiB);
    // Before: each process enforced its own maxBytes, so the directory held 4 MiB.
    expect(large.stats().bytes).toBeLessThanOrEqual(MiB);
    expect(small.stats().bytes).toBe(large.stats().bytes);
    // A value that fits its own bound but not the shared one is refused, and nothing is left behind.
    const files = fs.readdirSync(path.join(dir, "blobs")).length;
    await expectCode(large.set("too-big", bytes(2 * MiB)), "VALUE_TOO_LARGE");
    expect(await large.has("too-big")).toBe(false);
    expect(fs.readdirSync(path.join(dir, "blobs")).length).toBe(files);

    await small.close();
    expect(large.stats().sharedMaxBytes).toBe(4 * MiB);
    await writeMany(large, "alone", 6 * MiB);
    expect(large.stats().bytes).toBeGreaterThan(2 * MiB);
    expect(large.stats().bytes).toBeLessThanOrEqual(4 * MiB);
  });

  it("a smaller bound opened later shrinks the directory at once", async () => {
    const dir = tempDir("bound-later");
    const large = tier(dir, 4 * MiB);
    await writeMany(large, "large", 4 * MiB);
    expect(large.stats().bytes).toBeGreaterThan(3 * MiB);
    const small = tier(dir, MiB);
    expect(small.stats().bytes).toBeLessThanOrEqual(MiB);
    expect(small.stats().evictions).toBeGreaterThan(0);
  });

  it("a process that vanished without closing stops counting once its lease runs out", async () => {
    const dir = tempDir("bound-lease");
    let t = tier(dir, 4 * MiB);
    await t.close();
    // A crashed process's registration: renewed 10 minutes ago, never removed.
    const db = new Database(path.join(dir, "zarrs-cache.sqlite"));
    db.prepare("INSERT INTO openers (id, max_bytes, seen_at) VALUES ('crashed', ?, ?)").run(64 * KiB, Date.now() - 600_000);
    db.close();
    t = tier(dir, 4 * MiB);
    expect(t.stats().sharedMaxBytes).toBe(4 * MiB);
  });

  it("a shared bound tampered upwards never lifts a process above its own maxBytes", async () => {
    const dir = tempDir("bound-tamper");
    const t = tier(dir, MiB);
    const db = new Database(path.join(dir, "zarrs-cache.sqlite"));
    db.exec(`UPDATE totals SET bound = ${2 ** 50}; UPDATE openers SET max_bytes = ${2 ** 50}`);
    db.close();
    await writeMany(t, "k", 4 * MiB);
    expect(t.stats().bytes).toBeLessThanOrEqual(MiB);
  });
});
