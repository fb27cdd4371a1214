// The browser benchmark, in Debian's Chromium on a profile on disk:
//   1. IndexedDB tier hits vs raw IndexedDB gets of the same values (same page, same run);
//   2. the viewer's first view after a reload (memory empty, IndexedDB warm) vs cold (IndexedDB
//      empty), with 20 ms latency per upstream request.
// Prints ratios and writes bench/results/browser-latest.json.
//
//   node bench/src/browser/run.mjs [--runs 5] [--latency 20]
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startViewerHarness } from "../../../examples/viewer/src/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const runs = option("--runs", 5);
const latencyMs = option("--latency", 20);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const harness = await startViewerHarness({ latencyMs, arrays: ["wind"] });
try {
  // The hit bench is bundled into the served folder, so it runs on the same origin over http.
  const esbuild = createRequire(path.join(root, "examples", "viewer", "package.json"))("esbuild");
  const staticDir = path.join(harness.dir, "dist");
  await esbuild.build({
    entryPoints: [path.join(here, "idb-hits.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: path.join(staticDir, "bench-idb.js"),
    logLevel: "warning",
  });
  fs.writeFileSync(path.join(staticDir, "bench.html"), '<!doctype html><meta charset=utf-8><script type="module" src="bench-idb.js"></script>');
  const { page } = harness;
  await page.goto(`${harness.server.url}/bench.html`);
  await page.waitForFunction(() => typeof window.benchIdbHits === "function");
  const hits = await page.evaluate(() => window.benchIdbHits({}));
  console.log(`IndexedDB tier hits ${hits.tier.toFixed(0)}/s vs raw IndexedDB gets ${hits.raw.toFixed(0)}/s (8 KiB): ${hits.ratio.toFixed(2)}× (median of paired rounds)`);

  // The viewer: cold = IndexedDB emptied, then a reload; warm = the next reload.
  const cold = [];
  const warm = [];
  const fromIdb = [];
  const coldRequests = [];
  await harness.open("wind");
  for (let run = 0; run < runs; run++) {
    await harness.clearCache();
    harness.server.upstream.reset();
    await harness.open("wind", { reload: true });
    cold.push(await page.evaluate(() => window.viewer.state.firstViewMs));
    coldRequests.push(harness.server.upstream.stats.requests);
    await harness.flush();
    harness.server.upstream.reset();
    await harness.open("wind", { reload: true });
    warm.push(await page.evaluate(() => window.viewer.state.firstViewMs));
    if (harness.server.upstream.stats.requests !== 0) throw new Error("the warm reload made upstream requests");
    // The same view again from IndexedDB alone, its connection open and the page warmed up.
    await page.evaluate(() => window.viewer.dropMemory());
    fromIdb.push((await harness.panTo(0, 0)).ms);
  }
  const ratio = median(cold) / median(warm);
  console.log(`viewer first view (3×3 tiles of the sharded array, ${latencyMs} ms latency): cold ${median(cold).toFixed(1)} ms ` +
    `(${median(coldRequests)} requests), reload warm ${median(warm).toFixed(1)} ms: ${ratio.toFixed(1)}× faster; ` +
    `the view again from IndexedDB alone ${median(fromIdb).toFixed(1)} ms: ${(median(cold) / median(fromIdb)).toFixed(1)}×`);

  const chromium = (await harness.page.context().browser()?.version()) ?? (await page.evaluate(() => navigator.userAgent));
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    chromium,
    rows: [
      {
        group: "browser: IndexedDB hits (8 KiB)",
        scenario: "indexedDb tier get() vs raw IndexedDB get of the same values",
        unit: "ops/s",
        value: round(hits.tier),
        baseline: "raw IndexedDB get (one readonly transaction per get)",
        baselineValue: round(hits.raw),
        ratio: round(hits.ratio, 3),
        ratioOf: "median of per-round ratios (rounds alternate which runs first)",
        target: ">= 0.8",
        pass: hits.ratio >= 0.8,
        samples: { tier: hits.tierRates.map((x) => round(x)), raw: hits.rawRates.map((x) => round(x)), ratios: hits.ratios.map((x) => round(x, 3)) },
      },
      {
        group: `browser: viewer first view (${latencyMs} ms latency)`,
        scenario: "reload with IndexedDB warm (memory empty) vs cold",
        unit: "ms (lower is better)",
        value: round(median(warm), 2),
        baseline: "cold: IndexedDB empty, every read upstream",
        baselineValue: round(median(cold), 2),
        ratio: round(ratio, 2),
        target: ">= 20",
        pass: ratio >= 20,
        samples: { warm: warm.map((x) => round(x, 2)), cold: cold.map((x) => round(x, 2)), coldRequests },
      },
      {
        group: `browser: viewer first view (${latencyMs} ms latency)`,
        scenario: "the view again from IndexedDB alone (memory emptied, connection open) vs cold",
        unit: "ms (lower is better)",
        value: round(median(fromIdb), 2),
        baseline: "cold: IndexedDB empty, every read upstream",
        baselineValue: round(median(cold), 2),
        ratio: round(median(cold) / median(fromIdb), 2),
        target: "(diagnostic: the reload's own cost left out)",
        samples: { fromIdb: fromIdb.map((x) => round(x, 2)) },
      },
    ],
  };
  const out = path.join(root, "bench", "results", "browser-latest.json");
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
  writeReadmeTable(result);
} finally {
  await harness.close();
}

function round(x, digits = 1) {
  return Number(x.toFixed(digits));
}

/** The measured table of packages/indexeddb/README.md, generated from the results (never typed by hand). */
function writeReadmeTable(result) {
  const readme = path.join(root, "packages", "indexeddb", "README.md");
  const lines = [
    `Chromium ${result.chromium}, ${result.cpus} cores, ${result.date.slice(0, 10)}:`,
    "",
    "| scenario | value | baseline | ratio | target |",
    "|---|---|---|---|---|",
    ...result.rows.map((r) => `| ${r.group}: ${r.scenario} | ${r.value} ${r.unit} | ${r.baseline}: ${r.baselineValue} | ${r.ratio}× | ${r.target} |`),
  ];
  const text = fs.readFileSync(readme, "utf8");
  fs.writeFileSync(readme, text.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${lines.join("\n")}\n<!-- bench:end -->`));
}
