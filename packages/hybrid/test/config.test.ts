import fs from "node:fs";
import path from "node:path";
import { createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { type HybridOptions, hybrid } from "@zarrs-cache/hybrid";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTempDirs, tempDir } from "./helpers.js";

afterEach(cleanupTempDirs);

function configError(make: () => unknown): Error {
  let error: unknown;
  try {
    const made = make() as { close?: () => Promise<void> } | undefined;
    void made?.close?.();
  } catch (e) {
    error = e;
  }
  expect(isZarrsCacheError(error, "INVALID_CONFIG"), `expected INVALID_CONFIG, got ${String(error)}`).toBe(true);
  return error as Error;
}

describe("bad configuration fails with INVALID_CONFIG naming the option", () => {
  const dir = () => tempDir("config");
  const mem = { maxBytes: 1 << 20 };
  const cases: [string, () => unknown, string][] = [
    ["no options", () => hybrid(undefined as unknown as HybridOptions), "options"],
    ["no memory", () => hybrid({ disk: { dir: dir(), maxBytes: 1 << 20 } } as HybridOptions), '"memory"'],
    ["memory.maxBytes 0", () => hybrid({ memory: { maxBytes: 0 }, disk: { dir: dir(), maxBytes: 1 << 20 } }), '"memory.maxBytes"'],
    [
      "memory.maxBytes fractional",
      () => hybrid({ memory: { maxBytes: 1.5 }, disk: { dir: dir(), maxBytes: 1 << 20 } }),
      '"memory.maxBytes"',
    ],
    [
      "memory.maxValueBytes negative",
      () => hybrid({ memory: { ...mem, maxValueBytes: -1 }, disk: { dir: dir(), maxBytes: 1 << 20 } }),
      '"memory.maxValueBytes"',
    ],
    [
      "memory.ttl",
      () => hybrid({ memory: { ...mem, ttl: 5 } as HybridOptions["memory"], disk: { dir: dir(), maxBytes: 1 << 20 } }),
      '"memory.ttl"',
    ],
    [
      "memory.name (unknown)",
      () => hybrid({ memory: { ...mem, name: "x" } as HybridOptions["memory"], disk: { dir: dir(), maxBytes: 1 << 20 } }),
      '"memory.name"',
    ],
    ["no disk", () => hybrid({ memory: mem }), '"disk"'],
    ["disk.maxBytes too small", () => hybrid({ memory: mem, disk: { dir: dir(), maxBytes: 10 } }), '"maxBytes"'],
    ["disk.dir empty", () => hybrid({ memory: mem, disk: { dir: "", maxBytes: 1 << 20 } }), '"dir"'],
    ["disk.ttl negative", () => hybrid({ memory: mem, disk: { dir: dir(), maxBytes: 1 << 20, ttl: -1 } }), '"disk.ttl"'],
    ["disk and diskTier", () => hybrid({ memory: mem, disk: { dir: dir(), maxBytes: 1 << 20 }, diskTier: memory(mem) }), '"diskTier"'],
    ["diskTier not a tier", () => hybrid({ memory: mem, diskTier: { get() {} } as never }), '"diskTier"'],
    ["promotionThreshold negative", () => hybrid({ memory: mem, diskTier: memory(mem), promotionThreshold: -1 }), '"promotionThreshold"'],
    [
      "promotionThreshold a string",
      () => hybrid({ memory: mem, diskTier: memory(mem), promotionThreshold: "2" as never }),
      '"promotionThreshold"',
    ],
    ["demotionAfter 0", () => hybrid({ memory: mem, diskTier: memory(mem), demotionAfter: 0 }), '"demotionAfter"'],
    ["demotionAfter NaN", () => hybrid({ memory: mem, diskTier: memory(mem), demotionAfter: Number.NaN }), '"demotionAfter"'],
    [
      "maintenanceInterval negative",
      () => hybrid({ memory: mem, diskTier: memory(mem), maintenanceInterval: -5 }),
      '"maintenanceInterval"',
    ],
    [
      "maintenanceInterval past setInterval's range",
      () => hybrid({ memory: mem, diskTier: memory(mem), maintenanceInterval: 2 ** 31 }),
      '"maintenanceInterval"',
    ],
    ["ttl 0", () => hybrid({ memory: mem, diskTier: memory(mem), ttl: 0 }), '"ttl"'],
    ["name empty", () => hybrid({ memory: mem, diskTier: memory(mem), name: "" }), '"name"'],
    ["now not a function", () => hybrid({ memory: mem, diskTier: memory(mem), now: 5 as never }), '"now"'],
    [
      "a misspelt option",
      () => hybrid({ memory: mem, diskTier: memory(mem), promotionTreshold: 3 } as HybridOptions),
      '"promotionTreshold"',
    ],
  ];
  for (const [label, make, mention] of cases) {
    it(label, () => {
      const error = configError(make);
      expect(error.message).toContain(mention);
      expect(error.message).toContain("hybrid()");
    });
  }

  it("reports an unusable disk directory from build(), naming the disk option", async () => {
    const file = path.join(tempDir("config"), "a-file");
    fs.writeFileSync(file, "not a directory");
    const tier = hybrid({ memory: mem, disk: { dir: file, maxBytes: 1 << 20 } });
    const error = configError(() => createCache().tier(tier).build());
    expect(error.message).toContain('option "disk"');
    expect(error.message).toContain(file);
    await tier.close();
  });

  it("accepts a minimal configuration with the documented defaults", async () => {
    const tier = hybrid({ memory: mem, disk: { dir: dir(), maxBytes: 1 << 20 } });
    expect(tier.name).toBe("hybrid");
    expect(tier.stats()).toMatchObject({ memoryMaxBytes: 1 << 20, promotions: 0, demotions: 0 });
    await tier.close();
  });
});
