// Two real tabs (pages of the same browser context, same origin) sharing one database: the byte
// bound holds while both write at once, and writes in one tab drop stale copies in the other
// tab's memory tier (BroadcastChannel).
import { openDB } from "idb";
import { afterEach, describe, expect, it } from "vitest";
import { commands } from "vitest/browser";
import { dropDatabases, freshName } from "./helpers.js";

// Each tab loads the packages from the test server (Vite serves the TypeScript sources).
const SETUP = `
  const [{ createCache }, { memory }, { indexedDb }] = await Promise.all([
    import("/packages/core/src/index.ts"),
    import("/packages/memory/src/index.ts"),
    import("/packages/indexeddb/src/index.ts"),
  ]);
  window.zc = { createCache, memory, indexedDb, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
`;

async function openTabs(...names: string[]): Promise<void> {
  for (const name of names) {
    await commands.tabOpen(name);
    await commands.tabRun(name, SETUP);
  }
}

afterEach(async () => {
  for (const name of ["A", "B"]) await commands.tabClose(name);
  await dropDatabases();
});

describe("indexedDb across tabs", () => {
  it("keeps the byte bound while two tabs write at once", async () => {
    const name = freshName("two-tabs");
    const maxBytes = 60_000;
    await openTabs("A", "B");
    // Each tab writes 80 values of 1–3 KB, all at once: 2 × ~160 KB into a 60 KB bound.
    const write = `
      const { indexedDb } = window.zc;
      const tier = indexedDb({ name: arg.name, maxBytes: arg.maxBytes });
      const start = Date.now();
      await Promise.all(Array.from({ length: 80 }, (_, i) =>
        tier.set(arg.tab + "/" + i, new Uint8Array(1000 + ((i * 997) % 2000)).fill(i))));
      const stats = { ...tier.stats(), start, end: Date.now() };
      await tier.close();
      return stats;
    `;
    const [a, b] = await Promise.all([
      commands.tabRun<Record<string, number>>("A", write, { name, maxBytes, tab: "A" }),
      commands.tabRun<Record<string, number>>("B", write, { name, maxBytes, tab: "B" }),
    ]);
    expect(a.sets + b.sets).toBe(160);
    expect(a.evictions).toBeGreaterThan(0);
    expect(b.evictions).toBeGreaterThan(0);

    const db = await openDB(name);
    const index = await db.getAll("index");
    const held = index.reduce((sum, record) => sum + record.s, 0);
    expect(held).toBeLessThanOrEqual(maxBytes);
    expect(held).toBeGreaterThan(maxBytes / 2);
    expect(await db.get("meta", "totals")).toEqual({ bytes: held, entries: index.length });
    expect(await db.count("values")).toBe(index.length);
    // The two tabs really wrote at the same time.
    expect(a.start).toBeLessThan(b.end);
    expect(b.start).toBeLessThan(a.end);
    db.close();
  });

  it("drops stale copies from another tab's memory tier on writes, deletes and prefix invalidations, not on fills", async () => {
    const name = freshName("invalidation");
    await openTabs("A", "B");
    await commands.tabRun(
      "A",
      `
      const { createCache, memory, indexedDb } = window.zc;
      window.l1 = memory({ maxBytes: 1 << 20 });
      window.cache = createCache().tier(window.l1).tier(indexedDb({ name: arg, maxBytes: 1 << 20 })).build();
      for (const key of ["k", "filled", "gone", "p/1", "p/2", "q/1"]) {
        await window.cache.getOrLoad(key, async () => new Uint8Array([1]));
      }
      await window.cache.flush();
      `,
      name,
    );
    await commands.tabRun("B", "window.tier = window.zc.indexedDb({ name: arg, maxBytes: 1 << 20 });", name);
    // In A: waits until the memory tier has dropped `arg` (or 5 s pass); true when dropped.
    const droppedInA = (key: string) =>
      commands.tabRun<boolean>(
        "A",
        `for (let i = 0; i < 50; i++) { if (!window.l1.getSync(arg)) return true; await window.zc.sleep(100); } return false;`,
        key,
      );

    await commands.tabRun("B", `await window.tier.set("filled", new Uint8Array([9]), { fill: true });`);
    await commands.tabRun("B", `await window.tier.set("k", new Uint8Array([2]));`);
    expect(await droppedInA("k")).toBe(true);
    // The fill was broadcast before the write (one channel keeps order): A kept its copy.
    expect(await commands.tabRun("A", `return window.l1.getSync("filled") !== undefined;`)).toBe(true);
    // A's next read finds B's value in IndexedDB, without loading.
    expect(
      await commands.tabRun(
        "A",
        `return Array.from(await window.cache.getOrLoad("k", async () => { throw new Error("no load expected"); }));`,
      ),
    ).toEqual([2]);

    await commands.tabRun("B", `await window.tier.delete("gone");`);
    expect(await droppedInA("gone")).toBe(true);
    await commands.tabRun("B", `await window.tier.deletePrefix("p/");`);
    expect(await droppedInA("p/1")).toBe(true);
    expect(await droppedInA("p/2")).toBe(true);
    expect(await commands.tabRun("A", `return window.l1.getSync("q/1") !== undefined;`)).toBe(true);
    await commands.tabRun("B", `await window.tier.clear();`);
    expect(await droppedInA("q/1")).toBe(true);
    await commands.tabRun("A", `await window.cache.close();`);
    await commands.tabRun("B", `await window.tier.close();`);
  });
});
