import { describeTierConformance } from "@zarrs-cache/core/testing";
import { hybrid } from "@zarrs-cache/hybrid";
import { memory } from "@zarrs-cache/memory";

// The admission logic against the bare CacheTier contract: a memory tier stands in for disk.
describeTierConformance("hybrid over a memory stand-in", {
  create: () =>
    hybrid({
      memory: { maxBytes: 2 * 1024 * 1024 },
      diskTier: memory({ maxBytes: 8 * 1024 * 1024, name: "stand-in-disk" }),
    }),
  largeValueBytes: 1 << 20,
  oversizedValueBytes: 9 * 1024 * 1024,
});

// A memory level too small for most test values: everything is served from the lower level.
describeTierConformance("hybrid with a tiny memory level", {
  create: () =>
    hybrid({
      memory: { maxBytes: 200 },
      diskTier: memory({ maxBytes: 8 * 1024 * 1024, name: "stand-in-disk" }),
      promotionThreshold: 0,
    }),
  largeValueBytes: 1 << 20,
  oversizedValueBytes: 9 * 1024 * 1024,
});
