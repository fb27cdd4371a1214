// One process of the fleet benchmark (forked with IPC by scenarios/45-fleet.mjs): memory + a
// shared disk directory over the quickstart server. On "go" it reads the given chunk keys with
// `concurrency` in flight and reports its upstream requests and read time.
//   node fleet-child.mjs <url> <cacheDir> <singleFlight on|off>
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";

const [url, dir, singleFlight] = process.argv.slice(2);
const MiB = 1024 * 1024;
const cache = createCache()
  .tier(memory({ maxBytes: 256 * MiB }))
  .tier(disk({ dir, maxBytes: 1024 * MiB, singleFlight: singleFlight === "on" }))
  .build();
const fetchStore = new FetchStore(url);
let upstream = 0;
const counted = { get: (key, options) => (upstream++, fetchStore.get(key, options)) };
const store = withCache(counted, cache, { namespace: "bench-fleet" });

process.on("message", async ({ keys, concurrency }) => {
  const t = performance.now();
  let next = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) bytes += (await store.get(keys[next++]))?.byteLength ?? 0;
    }),
  );
  const ms = performance.now() - t;
  await cache.close();
  process.send({ ms, upstream, bytes });
  process.disconnect();
});
process.send({ ready: true });
