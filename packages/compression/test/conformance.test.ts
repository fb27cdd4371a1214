import { describeTierConformance } from "@zarrs-cache/core/testing";
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
