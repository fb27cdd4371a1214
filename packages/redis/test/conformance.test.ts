import { describeTierConformance } from "@zarrs-cache/core/testing";
import { redis } from "@zarrs-cache/redis";
import { SHARED_URL, describeRedis, removeKeys, testPrefix } from "./helpers/redis-servers.js";

const prefix = testPrefix("conformance");
let round = 0;
let current = "";

describeRedis("redis tier on the shared Redis", { shared: true }, () => {
  describeTierConformance("redis (standalone)", {
    create: () => {
      // A fresh namespace per test: the suite expects an empty tier each time.
      current = `${prefix}${round++}:`;
      return redis({ url: SHARED_URL, keyPrefix: current, maxValueBytes: 2 * 1024 * 1024, tombstoneTtl: 400 });
    },
    cleanup: () => removeKeys(current),
    exactSize: false,
    largeValueBytes: 1 << 20,
    oversizedValueBytes: 2 * 1024 * 1024 + 1,
    conditionalFills: { tombstoneTtl: 400 },
  });
});
