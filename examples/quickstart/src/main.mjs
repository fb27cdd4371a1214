// The zarrs-cache quickstart: writes a zarr v3 dataset (~37 MiB, one array sharded), serves it
// over HTTP on 127.0.0.1 with 20 ms latency per request, and reads it three ways:
//   uncached        plain FetchStore
//   first read      through memory + disk (cold on the first run; from disk on later runs)
//   warm            the same again, now from memory
// Run it twice: the second process finds the chunks on disk and makes no upstream requests.
// At the end it prints the metrics report and writes it as HTML next to the cache folder.
//
//   node src/main.mjs [--fresh] [--latency 20] [--data-dir DIR] [--cache-dir DIR] [--json]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FetchStore } from "@zarrita/storage";
import { createCache, zarrArray } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { metrics } from "@zarrs-cache/metrics";
import { withCache } from "@zarrs-cache/zarrita";
import { writeDataset } from "./dataset.mjs";
import { ARRAYS } from "./dataset.mjs";
import { readAll, sameData } from "./read.mjs";
import { startServer } from "./server.mjs";

const MiB = 1024 * 1024;
const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const latencyArg = args.indexOf("--latency");
const latencyMs = latencyArg === -1 ? 20 : Number(args[latencyArg + 1]);
if (!Number.isFinite(latencyMs) || latencyMs < 0) {
  console.error("usage: node src/main.mjs [--fresh] [--latency <ms>] [--data-dir DIR] [--cache-dir DIR] [--json]");
  process.exit(2);
}
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const dataDir = path.resolve(option("--data-dir", path.join(here, "..", "data")));
const cacheDir = path.resolve(option("--cache-dir", path.join(here, "..", ".zarr-cache")));
const json = args.includes("--json");
if (json) console.log = () => {}; // only the JSON summary goes to stdout
if (args.includes("--fresh")) fs.rmSync(cacheDir, { recursive: true, force: true });

const table = (rows) => json || console.table(rows);
const started = performance.now();
await writeDataset(dataDir);
const server = await startServer({ root: dataDir, latencyMs });
console.log(`dataset written to ${path.relative(process.cwd(), dataDir)}, served at ${server.url} with ${latencyMs} ms latency\n`);

async function phase(label, store) {
  server.reset();
  const t = performance.now();
  const data = await readAll(store);
  const ms = performance.now() - t;
  return { label, data, ms, requests: server.stats.requests, bytes: server.stats.bytes };
}

const uncached = await phase("uncached", new FetchStore(server.url));

// The metrics know each array's chunk grid from its metadata (for locality and heatmaps).
const arrays = Object.keys(ARRAYS).map((name) => zarrArray(fs.readFileSync(path.join(dataDir, name, "zarr.json")), { path: `/${name}` }));
const stats = metrics({ arrays });
const cache = createCache()
  .tier(memory({ maxBytes: 256 * MiB }))
  .tier(disk({ dir: cacheDir, maxBytes: 1024 * MiB }))
  .use(stats)
  .build();
// The server's port changes every run, so name the dataset rather than rely on its URL:
// that is what lets a second run find its chunks on disk.
const store = withCache(new FetchStore(server.url), cache, { namespace: "zarrs-cache-quickstart/v1" });
const diskEntriesBefore = cache.levels[1].stats().entries ?? 0;
const first = await phase(diskEntriesBefore > 0 ? "first read (disk warm)" : "first read (cold)", store);
const warm = await phase("warm (memory)", store);

const rows = [uncached, first, warm].map((p) => ({
  phase: p.label,
  "upstream requests": p.requests,
  "upstream MiB": +(p.bytes / MiB).toFixed(1),
  "wall ms": Math.round(p.ms),
  speedup: `${(uncached.ms / p.ms).toFixed(1)}×`,
  "same bytes": sameData(uncached.data, p.data) ? "yes" : "NO",
}));
table(rows);

console.log("\nper-tier hit rates (lookups that reached the tier):");
table(
  cache.levelStats().map((l) => ({
    tier: l.name,
    hits: l.hits,
    "hit rate": `${(l.hitRate * 100).toFixed(1)}%`,
    entries: l.tier.entries,
    "MiB held": l.tier.bytes === undefined ? "?" : +(l.tier.bytes / MiB).toFixed(1),
  })),
);
const s = cache.stats();
const levels = cache.levelStats().map((l) => ({ name: l.name, hits: l.hits, hitRate: l.hitRate }));
console.log(
  `cache: ${s.hits} hits, ${s.misses} misses (${s.loads} upstream loads, ${s.absentHits} cached-absent answers), ${s.joins} merged concurrent misses`,
);

const report = stats.report();
console.log(`\n${stats.formatReport(report)}`);
const htmlReport = path.join(path.dirname(cacheDir), "zarrs-cache-report.html");
fs.writeFileSync(htmlReport, stats.htmlReport({ title: "zarrs-cache quickstart" }));
console.log(`HTML report: ${path.relative(process.cwd(), htmlReport)}`);

await cache.close();
await server.close();
const ok = rows.every((r) => r["same bytes"] === "yes");
if (json) {
  const summary = {
    hitRate: report.performanceSummary.averageHitRate,
    recommendations: report.recommendations.map((r) => r.id),
    htmlReport,
  };
  process.stdout.write(`${JSON.stringify({ phases: rows, levels, stats: s, metrics: summary })}\n`);
}
console.log(
  `\n${ok ? "all reads identical to uncached" : "MISMATCH"}; total ${((performance.now() - started) / 1000).toFixed(1)} s. Run again: the next process reads from ${path.relative(process.cwd(), cacheDir)}.`,
);
if (!ok) process.exitCode = 1;
