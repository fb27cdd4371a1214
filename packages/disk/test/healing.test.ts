import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { checkValue, makeValue } from "./fixtures/values.mjs";
import { cleanupTempDirs, tempDir } from "./helpers.js";

const DB = "zarrs-cache.sqlite";
const KEYS = 1500;
const open: DiskTier[] = [];
function tier(dir: string): DiskTier {
  const t = disk({ dir, maxBytes: 32 * 1024 * 1024 });
  t.open();
  open.push(t);
  return t;
}

afterEach(async () => {
  for (const t of open.splice(0)) await t.close().catch(() => undefined);
  cleanupTempDirs();
});

/** Fills a directory through `t`, then flips bits in the leaf pages of the access index, as a failing disk might. */
async function damage(dir: string, t: DiskTier): Promise<void> {
  for (let i = 0; i < KEYS; i++) await t.set(`k/${i}`, makeValue(`k/${i}`, 1, 300 + (i % 40) * 50));
  const file = path.join(dir, DB);
  const db = new Database(file);
  db.pragma("wal_checkpoint(TRUNCATE)");
  const leafPages = "SELECT pageno FROM dbstat WHERE name = 'entries_by_access_size' AND pagetype = 'leaf'";
  const pages = db.prepare(leafPages).pluck().all() as number[];
  db.close();
  expect(pages.length).toBeGreaterThan(2);
  const fd = fs.openSync(file, "r+");
  for (const page of pages.slice(0, 3)) {
    for (const offset of [2100, 2600, 3100, 3600]) {
      const at = (page - 1) * 4096 + offset;
      const byte = Buffer.alloc(1);
      fs.readSync(fd, byte, 0, 1, at);
      byte[0]! ^= 0x10;
      fs.writeSync(fd, byte, 0, 1, at);
    }
  }
  fs.closeSync(fd);
  // The damage SQLite's quick_check does not see (it does not compare indexes with their table).
  const check = new Database(file, { readonly: true });
  expect(check.pragma("quick_check", { simple: true })).toBe("ok");
  expect(check.pragma("integrity_check", { simple: true })).not.toBe("ok");
  check.close();
}

describe("persistent damage heals in the running process", () => {
  it("index damage (SQLITE_CORRUPT_INDEX on every write that touches it) is rebuilt from", async () => {
    const dir = tempDir("heal-index");
    const t = tier(dir);
    await damage(dir, t);
    const failures: unknown[] = [];
    for (let i = 0; i < KEYS; i++) {
      const entry = await t.get(`k/${i}`);
      if (entry !== undefined) expect(checkValue(`k/${i}`, entry.value).ok, `k/${i}`).toBe(true);
      await t.set(`k/${i}`, makeValue(`k/${i}`, 2, 200)).catch((error: unknown) => failures.push(error));
    }
    // Before: about 240 of these writes failed with SQLITE_CORRUPT_INDEX and the tier never rebuilt.
    expect(failures).toEqual([]);
    const stats = t.stats();
    expect(stats.rebuilds).toBe(1);
    expect(stats.corruptions).toBeGreaterThanOrEqual(1);
    expect(stats.errors).toBe(0);
    // Entries written before the rebuild are gone (it is only a cache); those written after are all there.
    for (let i = 0; i < KEYS; i++) {
      const entry = await t.get(`k/${i}`);
      if (entry !== undefined || i >= KEYS - 100) expect(checkValue(`k/${i}`, entry?.value), `k/${i}`).toEqual({ ok: true, version: 2 });
    }
    const db = new Database(path.join(dir, DB), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });

  it("another tier with the damaged database open never reads wrong bytes and follows to the new one", async () => {
    const dir = tempDir("heal-other");
    const healer = tier(dir);
    const other = tier(dir);
    await damage(dir, healer);
    for (let i = 0; i < 10; i++) expect(checkValue(`k/${i}`, (await other.get(`k/${i}`))?.value).ok).toBe(true);
    for (let i = 0; i < KEYS; i++) await healer.set(`k/${i}`, makeValue(`k/${i}`, 3, 200));
    expect(healer.stats().rebuilds).toBe(1);
    // Its next read (no timer has run since: the loop above never yields to them) notices the new file.
    expect(checkValue(`k/${KEYS - 1}`, (await other.get(`k/${KEYS - 1}`))?.value)).toEqual({ ok: true, version: 3 });
    for (let i = 0; i < KEYS; i += 3) {
      const entry = await other.get(`k/${i}`);
      if (entry !== undefined) expect(checkValue(`k/${i}`, entry.value).ok, `k/${i}`).toBe(true);
    }
    expect(other.stats().reopens).toBeGreaterThanOrEqual(1);
    await other.set("from/other", makeValue("from/other", 1, 500));
    expect(checkValue("from/other", (await healer.get("from/other"))?.value).ok).toBe(true);
    expect(other.stats().rebuilds).toBe(0);
  });

  it("a database that keeps failing after a passed check is not rebuilt twice by two tiers", async () => {
    const dir = tempDir("heal-once");
    const a = tier(dir);
    const b = tier(dir);
    await damage(dir, a);
    for (let i = 0; i < KEYS; i++) {
      await a.set(`k/${i}`, makeValue(`k/${i}`, 4, 100));
      await b.set(`k/${(i * 7) % KEYS}`, makeValue(`k/${(i * 7) % KEYS}`, 5, 100));
    }
    expect(a.stats().rebuilds + b.stats().rebuilds).toBe(1);
    expect(a.stats().errors + b.stats().errors).toBe(0);
    expect(a.stats().entries).toBe(b.stats().entries);
  });

  it("damage found at open (the totals are recounted from the index) rebuilds at once", async () => {
    const dir = tempDir("heal-open");
    const first = disk({ dir, maxBytes: 32 * 1024 * 1024 });
    await damage(dir, first);
    await first.close();
    const t = tier(dir);
    expect(t.stats()).toMatchObject({ rebuilds: 1, entries: 0 });
    await t.set("k/1", makeValue("k/1", 9, 100));
    expect(checkValue("k/1", (await t.get("k/1"))?.value)).toEqual({ ok: true, version: 9 });
  });
});
