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
let retries = 0;
// A keep-alive socket the server closed while this process waited for another's load fails with
// "fetch failed" (ECONNRESET) when reused: retried, as a client would (each failure retires one pooled socket).
const counted = {
  get: async (key, options) => {
    upstream++;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetchStore.get(key, options);
      } catch (error) {
        if (attempt >= 10) throw error;
        retries++;
      }
    }
  },
};
const store = withCache(counted, cache, { namespace: "bench-fleet" });

process.on("message", async ({ keys, concurrency }) => {
  const t = performance.now();
  let next = 0;
  let bytes = 0;
  const missing = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        const value = await store.get(key);
        if (value === undefined) missing.push(key);
        bytes += value?.byteLength ?? 0;
      }
    }),
  );
  const ms = performance.now() - t;
  await cache.close();
  process.send({ ms, upstream, retries, bytes, missing, disk: cache.levels[1].stats() });
  process.disconnect();
});
process.send({ ready: true });
