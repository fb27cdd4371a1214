// timeAware with a fake clock: three simulated days of reads at 09:00, a restart (the profile
// exported and imported), then day four: the keys are warm by 09:00, and other hours warm nothing.
import { createCache, type TieredCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { FetchStore } from "@zarrita/storage";
import fs from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as zarr from "zarrita";
import { type TimeProfile, timeAware, warming } from "../src/index.js";
import { makeArrays, serve, type TestServer } from "./fixtures.js";

const MiB = 1024 * 1024;
const HOUR = 3_600_000;
const DAY1 = Date.UTC(2026, 2, 2); // a Monday, 00:00 UTC
let dir: string;
let server: TestServer;
const open: TieredCache[] = [];

beforeAll(async () => {
  dir = await makeArrays();
  server = await serve(dir, 1);
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
});

/** A fresh process: a new cache (empty), the plugin with a saved profile, a store over it. */
function start(clock: { now(): number }, profile?: TimeProfile) {
  const strategy = timeAware({ clock, timeZone: "utc" });
  if (profile) strategy.importProfile(profile);
  const plugin = warming({ strategies: [strategy], tickMs: 0 });
  const cache = createCache()
    .tier(memory({ maxBytes: 64 * MiB }))
    .use(plugin)
    .build();
  open.push(cache);
  return { strategy, plugin, cache, store: withCache(new FetchStore(server.url), cache) };
}

describe("timeAware()", () => {
  it("warms ≥ 90 % of the 09:00 keys by 09:00 on day four, and nothing at hours with no history", async () => {
    let now = DAY1;
    const clock = { now: () => now };
    // The morning job: rows 0–19 of the scan array (50 chunks), every day at 09:00–09:10.
    const morning = [zarr.slice(0, 20), null];
    let profile: TimeProfile | undefined;
    let morningKeys: string[] = [];
    for (let day = 0; day < 3; day++) {
      const { strategy, cache, store } = start(clock, profile);
      const seen = new Set<string>();
      cache.events.on("miss", (e) => seen.add(e.key));
      now = DAY1 + day * 24 * HOUR + 9 * HOUR + 2 * 60_000;
      const arr = await zarr.open(zarr.root(store).resolve("scan"), { kind: "array" });
      await zarr.get(arr, morning);
      morningKeys = [...seen].filter((k) => /\/scan\/c\//.test(k));
      // An afternoon read on the first day only: too little history (score 1 < minScore 2) to warm.
      if (day === 0) {
        now += 5 * HOUR;
        await zarr.get(arr, [zarr.slice(36, 40), null]);
      }
      profile = strategy.exportProfile();
      await cache.close();
    }
    expect(morningKeys).toHaveLength(50);

    // Day four, after a restart.
    const { plugin, cache } = start(clock, JSON.parse(JSON.stringify(profile)));
    for (const [hour, minute] of [
      [0, 50],
      [3, 10],
      [12, 10],
      [13, 50],
      [17, 50],
      [23, 50],
    ] as const) {
      now = DAY1 + 3 * 24 * HOUR + hour * HOUR + minute * 60_000;
      server.reset();
      await plugin.tick();
      expect(server.stats.requests, `at ${hour}:${minute}`).toBe(0);
    }
    expect(plugin.stats().strategies.timeAware!.issued).toBe(0);
    now = DAY1 + 3 * 24 * HOUR + 8 * HOUR + 50 * 60_000; // 08:50
    await plugin.tick();
    const warm = morningKeys.filter((key) => cache.holds(key));
    expect(warm.length / morningKeys.length).toBeGreaterThanOrEqual(0.9);
    // Once per occurrence of the hour: a second tick warms nothing more.
    const issued = plugin.stats().strategies.timeAware!.issued;
    await plugin.tick();
    expect(plugin.stats().strategies.timeAware!.issued).toBe(issued);
  });

  it("refuses a profile that is not one", () => {
    const strategy = timeAware();
    expect(() => strategy.importProfile({ version: 2 } as never)).toThrow(
      /^timeAware.importProfile\(profile\): expected an object from exportProfile/,
    );
    expect(() => strategy.importProfile({ version: 1, period: "week", entries: [] })).toThrow(/is by "week", this strategy by "day"/);
    expect(() => strategy.importProfile({ version: 1, period: "day", entries: [[24, "k", 1, 0]] })).toThrow(
      /entry .* is not \[hour slot, key, score, time\]/,
    );
  });
});
