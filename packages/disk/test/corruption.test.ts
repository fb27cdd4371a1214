import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { checkValue, makeValue } from "./fixtures/values.mjs";
import { bytes, cleanupTempDirs, same, tempDir } from "./helpers.js";

const DB = "zarrs-cache.sqlite";
const open: DiskTier[] = [];
function tier(dir: string): DiskTier {
  const t = disk({ dir, maxBytes: 16 * 1024 * 1024, fileThreshold: 64 * 1024 });
  t.open();
  open.push(t);
  return t;
}

function blobFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, "blobs"));
}

/** Runs SQL against the closed cache database, as damage from outside would. */
function tamper(dir: string, sql: string, ...params: unknown[]): void {
  const db = new Database(path.join(dir, DB));
  db.prepare(sql).run(...params);
  db.close();
}

describe("corruption is detected, dropped, counted and served as a miss", () => {
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
    cleanupTempDirs();
  });

  it("a database without our schema version (older, or not ours) is started over", async () => {
    const dir = tempDir("foreign-schema");
    fs.mkdirSync(dir, { recursive: true });
    const db = new Database(path.join(dir, DB));
    db.exec("CREATE TABLE entries (key TEXT PRIMARY KEY, payload BLOB); INSERT INTO entries VALUES ('old', x'00')");
    db.close();
    const t = tier(dir);
    expect(await t.get("old")).toBeUndefined();
    await t.set("new", bytes(100, 1));
    expect(same((await t.get("new"))!.value, bytes(100, 1))).toBe(true);
  });

  it("a flipped byte inside the database file", async () => {
    const dir = tempDir("flip-db");
    const value = bytes(1000, 3);
    let t = tier(dir);
    await t.set("victim", value);
    await t.set("bystander", bytes(1000, 4));
    await t.close();

    const file = path.join(dir, DB);
    const image = fs.readFileSync(file);
    const at = image.indexOf(Buffer.from(value.subarray(400, 464)));
    expect(at).toBeGreaterThan(0);
    image[at + 10]! ^= 0x01;
    fs.writeFileSync(file, image);

    t = tier(dir);
    expect(await t.get("victim")).toBeUndefined();
    expect(t.stats().corruptions).toBe(1);
    expect(t.stats().misses).toBe(1);
    expect(await t.has("victim")).toBe(false); // dropped, not just hidden
    expect(t.stats().entries).toBe(1);
    expect(same((await t.get("bystander"))?.value, bytes(1000, 4))).toBe(true);
  });

  it("a flipped byte, a truncation and a deletion of value files", async () => {
    const dir = tempDir("flip-file");
    const t = tier(dir);
    const keys = ["flipped", "truncated", "deleted", "intact"];
    for (const [i, key] of keys.entries()) await t.set(key, makeValue(key, i, 100_000));
    const files = blobFiles(dir);
    expect(files).toHaveLength(4);
    const fileOf = (key: string) => {
      const db = new Database(path.join(dir, DB), { readonly: true });
      const id = db.prepare("SELECT blob FROM entries WHERE key = ?").pluck().get(Buffer.from(key, "utf16le")) as string;
      db.close();
      return path.join(dir, "blobs", id);
    };
    const flipped = fs.readFileSync(fileOf("flipped"));
    flipped[50_000]! ^= 0x80;
    fs.writeFileSync(fileOf("flipped"), flipped);
    fs.truncateSync(fileOf("truncated"), 60_000);
    fs.rmSync(fileOf("deleted"));

    for (const key of ["flipped", "truncated", "deleted"]) expect(await t.get(key), key).toBeUndefined();
    expect(t.stats().corruptions).toBe(3);
    expect(t.stats().errors).toBe(0);
    expect(checkValue("intact", (await t.get("intact"))?.value).ok).toBe(true);
    // The damaged entries and their files are gone; the cache keeps working for those keys.
    expect(blobFiles(dir)).toHaveLength(1);
    expect(t.stats().entries).toBe(1);
    await t.set("flipped", makeValue("flipped", 9, 100_000));
    expect(checkValue("flipped", (await t.get("flipped"))?.value)).toEqual({ ok: true, version: 9 });
  });

  it("rows altered behind its back: another key's value, a changed expiry, a hostile file id", async () => {
    const dir = tempDir("tamper");
    let t = tier(dir);
    await t.set("a", bytes(500, 1));
    await t.set("b", bytes(500, 2));
    await t.set("c", bytes(500, 3), { ttl: 60_000 });
    await t.set("d", bytes(200_000, 4));
    await t.close();

    const a = Buffer.from("a", "utf16le");
    tamper(dir, "UPDATE entries SET value = (SELECT value FROM entries WHERE key = ?) WHERE key = ?", Buffer.from("b", "utf16le"), a);
    tamper(dir, "UPDATE entries SET expires_at = expires_at + 86400000 WHERE key = ?", Buffer.from("c", "utf16le"));
    const outside = path.join(path.dirname(dir), `${path.basename(dir)}-outside`);
    fs.writeFileSync(outside, "not the cache's");
    tamper(dir, "UPDATE entries SET blob = ? WHERE key = ?", `../../${path.basename(outside)}`, Buffer.from("d", "utf16le"));

    t = tier(dir);
    expect(await t.get("a")).toBeUndefined(); // b's bytes must never be served for a
    expect(await t.get("c")).toBeUndefined();
    expect(await t.get("d")).toBeUndefined();
    expect(same((await t.get("b"))?.value, bytes(500, 2))).toBe(true);
    expect(t.stats().corruptions).toBe(3);
    expect(fs.readFileSync(outside, "utf8")).toBe("not the cache's");
    fs.rmSync(outside);
  });

  it("a garbage database file is replaced at open, with a warning and a count", async () => {
    const dir = tempDir("garbage");
    fs.writeFileSync(path.join(dir, DB), bytes(64 * 1024, 5));
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    try {
      const t = tier(dir);
      expect(t.stats().rebuilds).toBe(1);
      await t.set("k", bytes(10));
      expect(same((await t.get("k"))?.value, bytes(10))).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((w) => w.includes("damaged"))).toBe(true);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a truncated database file: reads never throw or return wrong bytes, and writes work again", async () => {
    const dir = tempDir("truncated-db");
    let t = tier(dir);
    const keys = Array.from({ length: 300 }, (_, i) => `k/${i}`);
    for (const [i, key] of keys.entries()) await t.set(key, makeValue(key, i, 5000));
    await t.close();
    const file = path.join(dir, DB);
    fs.truncateSync(file, Math.floor(fs.statSync(file).size * 0.4));

    t = tier(dir);
    let served = 0;
    for (const key of keys) {
      const entry = await t.get(key);
      if (entry !== undefined) {
        expect(checkValue(key, entry.value).ok, key).toBe(true);
        served++;
      }
    }
    expect(served).toBeLessThan(keys.length);
    const stats = t.stats();
    expect(stats.corruptions + stats.rebuilds).toBeGreaterThan(0);
    await t.set("after", bytes(100, 7));
    expect(same((await t.get("after"))?.value, bytes(100, 7))).toBe(true);
  });

  it("damage appearing while open (pages zeroed under a running tier) is rebuilt from", async () => {
    const dir = tempDir("zeroed");
    const t = tier(dir);
    for (let i = 0; i < 200; i++) await t.set(`z/${i}`, makeValue(`z/${i}`, i, 3000));
    // Force everything into the main file, then zero its middle, as a failing disk might.
    const raw = new Database(path.join(dir, DB));
    raw.pragma("wal_checkpoint(TRUNCATE)");
    raw.close();
    const file = path.join(dir, DB);
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(Math.floor(size / 2)), 0, Math.floor(size / 2), Math.floor(size / 4));
    fs.closeSync(fd);

    for (let i = 0; i < 200; i++) {
      const entry = await t.get(`z/${i}`);
      if (entry !== undefined) expect(checkValue(`z/${i}`, entry.value).ok).toBe(true);
    }
    expect(t.stats().corruptions).toBeGreaterThan(0);
    await t.set("fresh", bytes(64, 1));
    expect(same((await t.get("fresh"))?.value, bytes(64, 1))).toBe(true);
  });

  it("the database deleted while open: later writes go to a new database", async () => {
    const dir = tempDir("deleted-db");
    const t = tier(dir);
    await t.set("before", bytes(100, 1));
    for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    await t.set("after", bytes(200_000, 2));
    expect(t.stats().reopens).toBe(1);
    expect(fs.existsSync(path.join(dir, DB))).toBe(true);
    expect(same((await t.get("after"))?.value, bytes(200_000, 2))).toBe(true);
    expect(await t.get("before")).toBeUndefined();
    // Another tier on the directory sees the new database.
    const other = tier(dir);
    expect(same((await other.get("after"))?.value, bytes(200_000, 2))).toBe(true);
  });

  it("a WAL left behind without its database is discarded, not replayed into a new one", async () => {
    const dir = tempDir("orphan-wal");
    const t = tier(dir);
    for (let i = 0; i < 20; i++) await t.set(`w/${i}`, bytes(2000, i));
    const wal = fs.readFileSync(path.join(dir, `${DB}-wal`));
    expect(wal.length).toBeGreaterThan(0);
    await t.close();
    open.pop();
    fs.rmSync(path.join(dir, DB));
    fs.writeFileSync(path.join(dir, `${DB}-wal`), wal);

    const again = tier(dir);
    expect(again.stats()).toMatchObject({ rebuilds: 1, entries: 0, corruptions: 0 });
    expect(await again.get("w/3")).toBeUndefined();
    await again.set("w/3", bytes(10, 1));
    expect(same((await again.get("w/3"))?.value, bytes(10, 1))).toBe(true);
  });

  it("files left by a crash (no row points at them) are removed once old enough", async () => {
    const dir = tempDir("orphans");
    let t = tier(dir);
    await t.set("kept", bytes(100_000, 1));
    await t.close();
    const old = path.join(dir, "blobs", "0".repeat(32));
    const young = path.join(dir, "blobs", "1".repeat(32));
    fs.writeFileSync(old, bytes(5000));
    fs.writeFileSync(young, bytes(5000));
    const hourAgo = new Date(Date.now() - 3600_000);
    fs.utimesSync(old, hourAgo, hourAgo);

    t = tier(dir);
    expect(t.stats().orphans).toBe(1);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(young)).toBe(true); // may be another process's write in progress
    expect(same((await t.get("kept"))?.value, bytes(100_000, 1))).toBe(true);
  });
});
