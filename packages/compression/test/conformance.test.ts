import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeTierConformance } from "@zarrs-cache/core/testing";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { compressed } from "@zarrs-cache/compression";

const inner = () => memory({ maxBytes: 8 * 1024 * 1024 });

// The suite's values are random bytes, which this tier stores raw: the default settings run the
// raw path. With minBytes 0, minSavings 0 and no entropy check, every value goes through the
// compressor first (and is kept compressed whenever it shrinks at all), on both implementations.
describeTierConformance("compressed(memory)", {
  create: () => compressed(inner()),
  oversizedValueBytes: 9 * 1024 * 1024,
});

describeTierConformance("compressed(memory) always compressing, node:zlib, gzip", {
  create: () => compressed(inner(), { implementation: "node:zlib", codec: "gzip", minBytes: 0, minSavings: 0, entropyCheck: false }),
  oversizedValueBytes: 9 * 1024 * 1024,
});

describeTierConformance("compressed(memory) always compressing, fflate, deflate", {
  create: () => compressed(inner(), { implementation: "fflate", codec: "deflate", minBytes: 0, minSavings: 0, entropyCheck: false }),
  // No oversized case here: fflate takes seconds to find that 9 MiB of random bytes do not shrink.
});

// The disk tier copies what it is given, so after the first write this wrapper builds every value
// in one reused buffer (see StoredBuffers): the suite runs that path too.
const dirs: string[] = [];
describeTierConformance("compressed(disk)", {
  create: () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-compressed-disk-"));
    dirs.push(dir);
    return compressed(disk({ dir, maxBytes: 8 * 1024 * 1024 }));
  },
  cleanup: () => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  },
  largeValueBytes: 1024 * 1024,
  oversizedValueBytes: 9 * 1024 * 1024,
  // The wrapper passes fill and loadStartedAt on: the disk level's conditional fills hold through it.
  conditionalFills: true,
  // And holds, as they are.
  holds: true,
});
