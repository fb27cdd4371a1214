import { describeTierConformance } from "@zarrs-cache/core/testing";
import { disk } from "@zarrs-cache/disk";
import { cleanupTempDirs, tempDir } from "./helpers.js";

const MiB = 1024 * 1024;

// Default layout: values under 128 KiB inside the database, the 1 MiB value in a file.
describeTierConformance("disk", {
  create: () => disk({ dir: tempDir("conformance"), maxBytes: 8 * MiB, tombstoneTtl: 400 }),
  cleanup: cleanupTempDirs,
  largeValueBytes: MiB,
  oversizedValueBytes: 9 * MiB,
  conditionalFills: { tombstoneTtl: 400 },
  holds: true,
});

// Every value of 64 bytes or more in its own file (a 10-byte value stays inline: the suite checks its size).
describeTierConformance("disk (values from 64 bytes in files)", {
  create: () => disk({ dir: tempDir("conformance-files"), maxBytes: 8 * MiB, fileThreshold: 64 }),
  cleanup: cleanupTempDirs,
  largeValueBytes: MiB,
  oversizedValueBytes: 9 * MiB,
  conditionalFills: true,
  holds: true,
});

// Every value inside the database.
describeTierConformance("disk (all values in the database)", {
  create: () => disk({ dir: tempDir("conformance-inline"), maxBytes: 8 * MiB, fileThreshold: 16 * MiB }),
  cleanup: cleanupTempDirs,
  largeValueBytes: MiB,
  oversizedValueBytes: 9 * MiB,
});
