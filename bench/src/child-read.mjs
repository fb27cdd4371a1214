// Run by benchmarks in a fresh process: reads the quickstart dataset through memory + disk
// over an existing cache directory, and prints the read's wall time as JSON.
//   node child-read.mjs <url> <cacheDir> <namespace>
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { readAll } from "quickstart/src/read.mjs";

const [url, dir, namespace] = process.argv.slice(2);
const MiB = 1024 * 1024;
const cache = createCache()
  .tier(memory({ maxBytes: 256 * MiB }))
  .tier(disk({ dir, maxBytes: 1024 * MiB }))
  .build();
const store = withCache(new FetchStore(url), cache, { namespace });
const t = performance.now();
await readAll(store);
const ms = performance.now() - t;
await cache.close();
console.log(JSON.stringify({ ms }));
