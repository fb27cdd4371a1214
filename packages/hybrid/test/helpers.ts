import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { memory } from "@zarrs-cache/memory";
import { type HybridOptions, hybrid } from "@zarrs-cache/hybrid";

/** A clock the test moves by hand (ms). */
export function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Deterministic bytes of a given length (core's generator). */
export { testBytes as bytes } from "@zarrs-cache/core/test-utils";

/**
 * A hybrid over a second memory tier standing in for the disk level, so admission and
 * promotion logic is tested against the plain CacheTier contract. No timer unless asked.
 */
export function hybridOverMemory(options: Partial<HybridOptions> & { memoryBytes: number; diskBytes?: number }) {
  const { memoryBytes, diskBytes, ...rest } = options;
  const lower = memory({ maxBytes: diskBytes ?? 64 * 1024 * 1024, name: "stand-in-disk" });
  const tier = hybrid({ memory: { maxBytes: memoryBytes, entryOverhead: 0 }, diskTier: lower, maintenanceInterval: 0, ...rest });
  return { tier, lower };
}

const made: string[] = [];
/** A fresh temporary directory; `cleanupTempDirs()` removes every one made so far. */
export function tempDir(label = "hybrid"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zc-${label}-`));
  made.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
