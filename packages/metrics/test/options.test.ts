import { createCache, isZarrsCacheError, ZarrArray, type ZarrsCacheErrorCode } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";
import { metrics } from "../src/index.js";
import { chunk, gridArray, setup } from "./helpers.js";

function expectError(fn: () => unknown, code: ZarrsCacheErrorCode, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isZarrsCacheError(error, code), String(error)).toBe(true);
  expect((error as Error).message).toMatch(message);
}

describe("bad input", () => {
  it("refuses bad options, naming them", () => {
    expectError(() => metrics({ intervalMS: 10 } as never), "INVALID_CONFIG", /intervalMS.*did you mean "intervalMs"/);
    expectError(() => metrics({ intervalMs: 0 }), "INVALID_CONFIG", /"intervalMs" must be a number >= 1/);
    expectError(() => metrics({ maxTrackedKeys: 1.5 }), "INVALID_CONFIG", /"maxTrackedKeys" must be an integer/);
    expectError(() => metrics({ maxArrayLabels: -1 }), "INVALID_CONFIG", /"maxArrayLabels"/);
    expectError(() => metrics({ arrays: [{}] as never }), "INVALID_CONFIG", /"arrays"\[0\] must be a ZarrArray/);
    expectError(() => metrics({ arrays: 5 as never }), "INVALID_CONFIG", /"arrays" must be an iterable/);
    expectError(() => metrics("fast" as never), "INVALID_CONFIG", /options must be an object/);
  });

  it("refuses bad report windows and snapshots", async () => {
    const { cache, plugin } = setup();
    for (const windowMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, "60000"]) {
      expectError(() => plugin.report({ windowMs } as never), "INVALID_ARGUMENT", /windowMs must be a positive number of milliseconds/);
    }
    expectError(() => plugin.report({ window: 1000 } as never), "INVALID_CONFIG", /"window".*did you mean "windowMs"/);
    expectError(() => plugin.report(7 as never), "INVALID_ARGUMENT", /options must be an object/);
    expectError(() => plugin.report({ windowMs: 10, since: plugin.snapshot() }), "INVALID_ARGUMENT", /windowMs or since, not both/);
    expectError(() => plugin.since({} as never), "INVALID_ARGUMENT", /must be a snapshot from snapshot\(\)/);
    const other = setup();
    expectError(() => plugin.since(other.plugin.snapshot()), "INVALID_ARGUMENT", /another metrics instance/);
    expectError(() => plugin.htmlReport({ title: 5 } as never), "INVALID_ARGUMENT", /title must be a string/);
    expectError(() => plugin.addArray("/temp" as never), "INVALID_ARGUMENT", /addArray\(array\): array must be a ZarrArray/);
    await cache.close();
    await other.cache.close();
  });

  it("must be added to a cache before use, and to one cache only", async () => {
    const plugin = metrics();
    expectError(() => plugin.report(), "INVALID_CONFIG", /add the plugin to a cache first/);
    expectError(() => plugin.prometheus(), "INVALID_CONFIG", /add the plugin to a cache first/);
    const cache = createCache()
      .tier(memory({ maxBytes: 1024 }))
      .use(plugin)
      .build();
    expectError(
      () =>
        createCache()
          .tier(memory({ maxBytes: 1024 }))
          .use(plugin)
          .build(),
      "INVALID_CONFIG",
      /one metrics\(\) plugin serves one cache/,
    );
    await cache.close();
  });

  it("caps the arrays it tracks", async () => {
    const { cache, plugin } = setup({ maxArrays: 2 });
    plugin.addArray(gridArray("/a", [2]));
    plugin.addArray(gridArray("/b", [2]));
    plugin.addArray(gridArray("/b", [4])); // replaces /b: not one more
    expectError(() => plugin.addArray(gridArray("/c", [2])), "INVALID_ARGUMENT", /maxArrays \(2\)/);
    await cache.close();
  });
});

it("never lets a failure inside the metrics break a read", async () => {
  const good = gridArray("/broken", [4, 4]);
  class Broken extends ZarrArray {
    override parseRelativeKey(): number[] | undefined {
      throw new Error("metrics bug");
    }
  }
  const { cache, plugin, read } = setup({ arrays: [new Broken(good.metadata, good.path)] });
  for (let i = 0; i < 4; i++) expect((await read(chunk(good, [0, i])))?.byteLength).toBe(1024);
  for (let i = 0; i < 4; i++) expect((await read(chunk(good, [0, i])))?.byteLength).toBe(1024);
  const snapshot = plugin.snapshot();
  expect(snapshot.internalErrors).toBeGreaterThan(0);
  expect(cache.stats().hits).toBe(4);
  expect(plugin.report().performanceSummary.misses).toBe(4);
  await cache.close();
  // After close the plugin still reports what it counted.
  expect(plugin.snapshot().misses).toBe(4);
});
