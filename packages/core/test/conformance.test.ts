import { createCache } from "@zarrs-cache/core";
import { describeTierConformance } from "@zarrs-cache/core/testing";
import { memory } from "@zarrs-cache/memory";

// A TieredCache is itself a CacheTier: it passes the same suite over two memory levels.
describeTierConformance("TieredCache(memory, memory)", {
  create: () =>
    createCache()
      .tier(memory({ maxBytes: 4 * 1024 * 1024, name: "l1" }))
      .tier(memory({ maxBytes: 8 * 1024 * 1024, name: "l2" }))
      .build(),
  exactSize: false,
  largeValueBytes: 1 << 20,
});
