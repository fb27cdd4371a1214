import fs from "node:fs";
import path from "node:path";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, listFiles, same, tempDir } from "./helpers.js";

const HOSTILE = [
  "../../../../etc/passwd",
  "..",
  ".",
  "/",
  "/abs/path/c/0/0",
  "a/../../b",
  "nul\u0000byte",
  "\u0000",
  "back\\slash\\..\\..\\x",
  "C:\\Windows\\win.ini",
  "héllo/wörld/🧊/データ",
  "zarrs-cache.sqlite",
  "zarrs-cache.sqlite-wal",
  "blobs/../zarrs-cache.sqlite",
  "blobs/" + "0".repeat(32),
  "x".repeat(8192),
  "a\nb\rc\td",
  "\uD800", // lone surrogates: invalid UTF-16, still distinct keys
  "\uDC00",
  "\uFFFD",
  "\uFFFF\uFFFF",
  "%2e%2e%2f",
  "~/.ssh/id_rsa",
];

const open: DiskTier[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  cleanupTempDirs();
});

describe("any key is safe", () => {
  it("hostile keys round-trip exactly and create nothing outside dir", async () => {
    const parent = tempDir("paths");
    const dir = path.join(parent, "cache");
    // Small values stay inside the database, large ones get files: try both.
    for (const fileThreshold of [64 * 1024, 1]) {
      const t = disk({ dir, maxBytes: 64 * 1024 * 1024, fileThreshold });
      open.push(t);
      for (const [i, key] of HOSTILE.entries()) await t.set(key, bytes(100 + i, i + 1));
      for (const [i, key] of HOSTILE.entries()) {
        expect(same((await t.get(key))?.value, bytes(100 + i, i + 1)), JSON.stringify(key.slice(0, 40))).toBe(true);
      }
      const listed: string[] = [];
      for await (const key of t.keys()) listed.push(key);
      expect(listed.sort()).toEqual([...HOSTILE].sort());
      await t.clear();
    }
    expect(fs.readdirSync(parent)).toEqual(["cache"]); // nothing beside dir
    // Inside: only our own file names; value files are named by random ids.
    for (const name of listFiles(dir)) {
      expect(name).toMatch(/^(zarrs-cache\.sqlite(-wal|-shm)?|zarrs-cache\.lock|blobs|blobs\/[0-9a-f]{32})$/);
    }
  });

  it("keys that differ only in ways UTF-8 would blur stay distinct", async () => {
    const t = disk({ dir: tempDir("surrogates"), maxBytes: 1024 * 1024 });
    open.push(t);
    const keys = ["\uD800", "\uDBFF", "\uDC00", "\uFFFD", "a\u0000", "a", "a\u0000\u0000"];
    for (const [i, key] of keys.entries()) await t.set(key, bytes(8, i + 1));
    for (const [i, key] of keys.entries()) expect(same((await t.get(key))?.value, bytes(8, i + 1))).toBe(true);
    expect(t.stats().entries).toBe(keys.length);
  });

  it("prefix listing and removal are exact at awkward boundaries", async () => {
    const t = disk({ dir: tempDir("prefix"), maxBytes: 1024 * 1024 });
    open.push(t);
    const keys = ["a", "a\u0000", "a/", "a/\uFFFF", "a/\uFFFF\uFFFF/x", "a0", "a\uFFFF", "b", "\uFFFF", "\uFFFF\uFFFFz"];
    for (const key of keys) await t.set(key, bytes(4));
    const list = async (prefix: string) => {
      const out: string[] = [];
      for await (const key of t.keys(prefix)) out.push(key);
      return out.sort();
    };
    for (const prefix of ["a", "a/", "a/\uFFFF", "\uFFFF", "\uFFFF\uFFFF", "a\u0000", ""]) {
      expect(await list(prefix), JSON.stringify(prefix)).toEqual(keys.filter((k) => k.startsWith(prefix)).sort());
    }
    expect(await t.deletePrefix("a/\uFFFF")).toBe(2);
    expect(await t.deletePrefix("\uFFFF")).toBe(2);
    expect((await list("")).sort()).toEqual(["a", "a\u0000", "a/", "a0", "a\uFFFF", "b"].sort());
  });

  it("lists more keys than one page", async () => {
    const t = disk({ dir: tempDir("pages"), maxBytes: 16 * 1024 * 1024 });
    open.push(t);
    const keys = Array.from({ length: 2500 }, (_, i) => `p/${String(i).padStart(5, "0")}`);
    for (const key of keys) t.setSync(key, bytes(4));
    t.setSync("q/0", bytes(4));
    const listed: string[] = [];
    for await (const key of t.keys("p/")) listed.push(key);
    expect(listed).toEqual(keys);
  });
});
