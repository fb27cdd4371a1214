import { describeTierConformance } from "@zarrs-cache/core/testing";
import { memory } from "@zarrs-cache/memory";

describeTierConformance("memory (in Chromium)", {
  create: () => memory({ maxBytes: 8 * 1024 * 1024 }),
  largeValueBytes: 1 << 20,
  oversizedValueBytes: 9 * 1024 * 1024,
});
