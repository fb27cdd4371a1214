import path from "node:path";
import Database from "better-sqlite3";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, directoryBytes, same, tempDir } from "./helpers.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_BYTES = 2 * MiB;

const open: DiskTier[] = [];
function tier(dir: string): DiskTier {
  const t = disk({ dir, maxBytes: MAX_BYTES, fileThreshold: 64 * KiB });
  t.open();
  open.push(t);
  return t;
}

afterEach(async () => {
  for (const t of open.splice(0)) await t.close().catch(() => undefined);
  cleanupTempDirs();
});

/** Runs SQL on the cache database through a connection of its own, as damage or an intruder would. */
function tamper(dir: string, sql: string): void {
  const db = new Database(path.join(dir, "zarrs-cache.sqlite"));
  db.exec(sql);
  db.close();
}

/** The totals row and what the rows add up to. */
function inspect(dir: string): { totals: { entries: number; bytes: number }; rows: { entries: number; bytes: number } } {
  const db = new Database(path.join(dir, "zarrs-cache.sqlite"), { readonly: true });
  const totals = db.prepare("SELECT entries, bytes FROM totals WHERE id = 0").get() as { entries: number; bytes: number };
  const rows = db.prepare("SELECT count(*) AS entries, coalesce(sum(size), 0) AS bytes FROM entries").get() as typeof totals;
  db.close();
  return { totals, rows };
}

/** Writes `total` bytes in values on both sides of the file threshold. */
async function writeMany(t: DiskTier, label: string, total: number): Promise<void> {
  for (let i = 0, written = 0; written < total; i++) {
    const size = i % 4 === 0 ? 100 * KiB : 5 * KiB + (i % 13) * KiB;
    await t.set(`${label}/${i}`, bytes(size, i));
    written += size;
  }
}

describe("the totals are verified and recounted", () => {
  it("a total set to -2^40 (and a negative count) while open: the directory stays within maxBytes", async () => {
    const dir = tempDir("totals-negative");
    const t = tier(dir);
    await writeMany(t, "before", MAX_BYTES);
    tamper(dir, `UPDATE totals SET bytes = ${-(2 ** 40)}, entries = -5`);
    await writeMany(t, "after", 10 * MAX_BYTES);
    const stats = t.stats();
    expect(stats.totalsRepaired).toBeGreaterThanOrEqual(1);
    expect(stats.bytes).toBeLessThanOrEqual(MAX_BYTES);
    expect(stats.bytes).toBeGreaterThan(MAX_BYTES / 2);
    expect(inspect(dir).totals).toEqual(inspect(dir).rows);
    await t.close();
    // Before: the directory grew to several times maxBytes and kept growing.
    expect(directoryBytes(dir)).toBeLessThan(1.6 * MAX_BYTES);
  });

  it("a total set far too high does not empty the cache", async () => {
    const dir = tempDir("totals-high");
    const t = tier(dir);
    await writeMany(t, "before", MAX_BYTES / 2);
    const entries = t.stats().entries!;
    tamper(dir, `UPDATE totals SET bytes = ${2 ** 40}`);
    await t.set("one-more", bytes(1000, 1));
    expect(t.stats().totalsRepaired).toBe(1);
    expect(t.stats().entries).toBe(entries + 1);
    expect(t.stats().evictions).toBe(0);
    expect(same((await t.get("before/1"))?.value, bytes(6 * KiB, 1))).toBe(true);
  });

  it("a plausible but wrong total (and count), tampered while closed, is recounted at open", async () => {
    const dir = tempDir("totals-closed");
    let t = tier(dir);
    await writeMany(t, "before", MAX_BYTES);
    await t.close();
    open.pop();
    tamper(dir, "UPDATE totals SET bytes = 0, entries = 0");
    t = tier(dir);
    expect(t.stats().totalsRepaired).toBe(1);
    expect(inspect(dir).totals).toEqual(inspect(dir).rows);
    await writeMany(t, "after", 4 * MAX_BYTES);
    expect(t.stats().bytes).toBeLessThanOrEqual(MAX_BYTES);
  });

  it("dropped or altered triggers and tables, a deleted totals row, an impossible row size: repaired at open", async () => {
    const dir = tempDir("totals-triggers");
    let t = tier(dir);
    await writeMany(t, "before", MAX_BYTES / 2);
    await t.close();
    open.pop();
    tamper(
      dir,
      `DROP TRIGGER entries_insert;
       DROP TRIGGER entries_delete;
       CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN SELECT 1; END;
       DELETE FROM totals;
       DROP INDEX entries_by_access_size;
       DROP TABLE openers;
       UPDATE entries SET size = -1099511627776 WHERE id = (SELECT min(id) FROM entries);`,
    );
    t = tier(dir);
    const stats = t.stats();
    expect(stats.totalsRepaired).toBe(1);
    expect(stats.corruptions).toBe(1);
    await writeMany(t, "after", 4 * MAX_BYTES);
    await t.delete("after/3");
    expect(inspect(dir).totals).toEqual(inspect(dir).rows);
    expect(t.stats().bytes).toBeLessThanOrEqual(MAX_BYTES);
  });
});
