import { describeTierConformance } from "@zarrs-cache/core/testing";
import { hybrid } from "@zarrs-cache/hybrid";
import { cleanupTempDirs, tempDir } from "./helpers.js";

const MiB = 1024 * 1024;

// The real thing: the memory level over the SQLite disk tier.
describeTierConformance("hybrid (memory + disk)", {
  create: () => hybrid({ memory: { maxBytes: 2 * MiB }, disk: { dir: tempDir("conformance"), maxBytes: 8 * MiB } }),
  cleanup: cleanupTempDirs,
  largeValueBytes: 1 << 20,
  oversizedValueBytes: 9 * MiB,
  // Fill options reach the disk level, and memory never keeps a fill the disk level refused.
  conditionalFills: true,
});
