import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTempDirs, closeOpenedTiers, expectCode, openedTier, tempDir } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (...values: number[]) => new Uint8Array(values);
const MiB = 1024 * 1024;

afterEach(async () => {
  await closeOpenedTiers();
  cleanupTempDirs();
});

/** Two processes' tiers over one directory (two instances behave as two processes do: they share only the files). */
function twoInstances() {
  const dir = tempDir("holds");
  return { dir, writer: openedTier(dir, 16 * MiB), sibling: openedTier(dir, 16 * MiB) };
}

/** A time strictly after now (holds and tombstones are whole ms). */
async function nextMs(): Promise<number> {
  const now = Date.now();
  while (Date.now() <= now + 1) await sleep(1);
  return Date.now();
}

const fill = (loadStartedAt = Date.now()) => ({ fill: true, loadStartedAt });

describe("holds on a shared directory", () => {
  it("refuses every process's fills while held, and keeps what the key held; application writes still land", async () => {
    const { writer, sibling } = twoInstances();
    await sibling.set("kept", bytes(9), fill());
    await writer.hold({ key: "kept" }, Date.now() + 60_000);
    expect((await sibling.get("kept"))?.value[0]).toBe(9);
    await writer.hold({ key: "k" }, Date.now() + 60_000);
    await sibling.set("k", bytes(1), fill(await nextMs()));
    await sibling.set("k", bytes(1), { fill: true });
    expect(await writer.get("k")).toBeUndefined();
    expect(sibling.stats().fillsRefused).toBe(2);
    expect(writer.stats().holds).toBe(2);
    // Other keys fill as usual; an application write of the held key lands.
    await sibling.set("other", bytes(3), fill());
    expect((await writer.get("other"))?.value[0]).toBe(3);
    await sibling.set("k", bytes(4));
    expect((await writer.get("k"))?.value[0]).toBe(4);
  });

  it("survives clear(), deletePrefix() and delete() of any process", async () => {
    const { writer, sibling } = twoInstances();
    await writer.hold({ key: "a/k" }, Date.now() + 60_000);
    await sibling.clear();
    await sibling.deletePrefix("a/");
    await sibling.delete("a/k");
    await sibling.set("a/k", bytes(1), fill(await nextMs()));
    expect(await writer.get("a/k")).toBeUndefined();
    expect(sibling.stats().fillsRefused).toBe(1);
  });

  it("holds a prefix: every key under it, not the others", async () => {
    const { writer, sibling } = twoInstances();
    await sibling.set("arr/c/0", bytes(1), fill());
    await sibling.set("meta", bytes(2), fill());
    await writer.hold({ prefix: "arr/" }, Date.now() + 60_000);
    await sibling.delete("arr/c/0");
    await sibling.set("arr/c/0", bytes(1), fill(await nextMs()));
    expect(await sibling.get("arr/c/0")).toBeUndefined();
    expect((await sibling.get("meta"))?.value[0]).toBe(2);
    await sibling.set("arr/c/1", bytes(3), fill(await nextMs()));
    await sibling.set("other/c/1", bytes(4), fill());
    expect(await writer.get("arr/c/1")).toBeUndefined();
    expect((await writer.get("other/c/1"))?.value[0]).toBe(4);
  });

  it("a release ends only the holder's own hold, and fills whose load began before it stay refused", async () => {
    const { dir, writer, sibling } = twoInstances();
    const third = openedTier(dir, 16 * MiB);
    const before = Date.now();
    await writer.hold({ key: "k" }, Date.now() + 60_000);
    await third.hold({ key: "k" }, Date.now() + 60_000);
    await writer.release({ key: "k" });
    await sibling.set("k", bytes(1), fill(await nextMs()));
    expect(await sibling.get("k")).toBeUndefined();
    // Releasing someone else's hold does nothing.
    await sibling.release({ key: "k" });
    await sibling.set("k", bytes(1), fill(await nextMs()));
    expect(await sibling.get("k")).toBeUndefined();
    await third.release({ key: "k" });
    await sibling.set("k", bytes(1), fill(before));
    expect(await sibling.get("k")).toBeUndefined();
    await sibling.set("k", bytes(2), fill(await nextMs()));
    expect((await writer.get("k"))?.value[0]).toBe(2);
  });

  it("ends by itself at `until` (a holder that died); a shorter hold never shortens a longer one", async () => {
    const { writer, sibling } = twoInstances();
    await writer.hold({ key: "short" }, Date.now() + 150);
    await writer.hold({ key: "long" }, Date.now() + 60_000);
    await writer.hold({ key: "long" }, Date.now() + 10);
    await sleep(200);
    await sibling.set("short", bytes(1), fill(await nextMs()));
    await sibling.set("long", bytes(1), fill(await nextMs()));
    expect((await writer.get("short"))?.value[0]).toBe(1);
    expect(await writer.get("long")).toBeUndefined();
  });

  it("keeps holds in the database file, visible to a process that opens the directory later", async () => {
    const { dir, writer } = twoInstances();
    await writer.hold({ key: "k" }, Date.now() + 60_000);
    const late = openedTier(dir, 16 * MiB);
    await late.set("k", bytes(1), fill(await nextMs()));
    expect(await late.get("k")).toBeUndefined();
    const db = new Database(path.join(dir, "zarrs-cache.sqlite"), { readonly: true });
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(4);
      expect(db.prepare("SELECT count(*) FROM holds").pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });

  it("refuses a bad scope or time", async () => {
    const { writer } = twoInstances();
    await expectCode(writer.hold({} as never, Date.now()), "INVALID_ARGUMENT");
    await expectCode(writer.hold({ key: "a", prefix: "b" } as never, Date.now()), "INVALID_ARGUMENT");
    await expectCode(writer.hold({ key: "a" }, Number.NaN), "INVALID_ARGUMENT");
    await expectCode(writer.release({ key: "" }), "INVALID_KEY");
  });
});
