// The measured tables in the docs are generated from bench/results/latest.json, never typed by hand.
// A doc asks for a group's table with a pair of markers:
//   <!-- bench-table: warming (20 ms HTTP) -->
//   (generated)
//   <!-- /bench-table -->
// `node scripts/bench-tables.mjs` rewrites what lies between them; `--check` (run by `pnpm test:all`)
// fails, naming the file, when a table differs from what the results file gives.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = "bench/results/latest.json";
const DOCS = ["docs/warming.md", "packages/warming/README.md"];
const MARKERS = /(<!-- bench-table: (.+?) -->\n)([\s\S]*?)(<!-- \/bench-table -->)/g;

const cell = (x) => String(x ?? "").replaceAll("|", "\\|");

/** The markdown table of one group's rows, with the run they came from. */
export function renderTable(results, group) {
  const rows = results.rows.filter((r) => r.group === group);
  if (rows.length === 0) throw new Error(`${RESULTS} has no rows of group ${JSON.stringify(group)}`);
  const run = results.runs?.[group] ?? results;
  const lines = [
    "| scenario | value | baseline | ratio | target | |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => {
      const baseline = r.baseline === undefined ? "" : `${r.baseline} (${r.baselineValue} ${r.unit})`;
      const verdict = r.pass === undefined ? "" : r.pass ? "met" : "missed";
      return `| ${cell(r.scenario)} | ${cell(`${r.value} ${r.unit}`)} | ${cell(baseline)} | ${cell(r.ratio)} | ${cell(r.target)} | ${verdict} |`;
    }),
    "",
    `(generated from \`${RESULTS}\`: run of ${run.date}, Node ${run.node}, ${run.cpus} CPUs${run.command ? `, \`${run.command}\`` : ""})`,
  ];
  return `${lines.join("\n")}\n`;
}

/** The doc with every marked table regenerated. */
export function regenerate(text, results) {
  return text.replace(MARKERS, (_, open, group, _old, close) => `${open}${renderTable(results, group)}${close}`);
}

function main() {
  const check = process.argv.includes("--check");
  const results = JSON.parse(fs.readFileSync(path.join(root, RESULTS), "utf8"));
  const stale = [];
  for (const doc of DOCS) {
    const file = path.join(root, doc);
    const text = fs.readFileSync(file, "utf8");
    if (!MARKERS.test(text)) throw new Error(`${doc} has no <!-- bench-table: group --> markers`);
    MARKERS.lastIndex = 0;
    const next = regenerate(text, results);
    if (next === text) continue;
    if (check) stale.push(doc);
    else fs.writeFileSync(file, next);
  }
  if (stale.length > 0) {
    console.error(`measured tables differ from ${RESULTS} in: ${stale.join(", ")}; run \`node scripts/bench-tables.mjs\``);
    process.exit(1);
  }
  console.log(check ? `measured tables match ${RESULTS}` : `measured tables written from ${RESULTS}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
