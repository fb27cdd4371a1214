// pnpm bench: runs every scenario module in src/scenarios (or those whose file name contains
// one of the command-line words), prints a table and writes results/latest.json. With words it
// writes results/partial-<words>.json instead; `--merge` also puts its groups' rows into
// latest.json in place of the old ones (each group remembers its own run), so the docs' tables
// (scripts/bench-tables.mjs) can be regenerated from one scenario's run.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const merge = args.includes("--merge");
const filters = args.filter((a) => a !== "--merge");
const files = fs
  .readdirSync(path.join(here, "scenarios"))
  .filter((f) => f.endsWith(".mjs"))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

const rows = [];
for (const file of files) {
  const mod = await import(path.join(here, "scenarios", file));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `zc-bench-${path.basename(file, ".mjs")}-`));
  console.error(`\n▶ ${file}`);
  try {
    const result = await mod.default({ tmp, log: (...a) => console.error("  ", ...a) });
    for (const r of result) {
      rows.push(r);
      console.error(
        `   ${r.scenario}: ${r.value} ${r.unit}${r.ratio !== undefined ? `  ×${r.ratio} vs ${r.baseline}` : ""}${r.target ? `  (target ${r.target}: ${r.pass ? "met" : "MISSED"})` : ""}`,
      );
    }
  } catch (error) {
    console.error(`   FAILED: ${error?.stack ?? error}`);
    rows.push({ group: file, scenario: "(scenario failed)", notes: String(error?.message ?? error) });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const table = rows.map((r) => ({
  group: r.group,
  scenario: r.scenario,
  value: r.value === undefined ? "" : `${r.value} ${r.unit}`,
  baseline: r.baseline === undefined ? "" : `${r.baseline} (${r.baselineValue} ${r.unit})`,
  ratio: r.ratio ?? "",
  target: r.target ? `${r.target} ${r.pass ? "✓" : "✗"}` : "",
}));
console.table(table);
const out = path.join(here, "..", "results", filters.length ? `partial-${filters.join("-")}.json` : "latest.json");
fs.mkdirSync(path.dirname(out), { recursive: true });
const run = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length };
fs.writeFileSync(out, JSON.stringify({ ...run, rows }, null, 2) + "\n");
console.error(`\nwrote ${path.relative(process.cwd(), out)}`);
if (merge && rows.some((r) => r.scenario === "(scenario failed)")) console.error("not merged into latest.json: a scenario failed");
else if (merge && filters.length > 0) {
  const latestFile = path.join(here, "..", "results", "latest.json");
  const latest = JSON.parse(fs.readFileSync(latestFile, "utf8"));
  const groups = [...new Set(rows.map((r) => r.group))];
  const merged = [];
  let placed = false;
  for (const r of latest.rows) {
    if (!groups.includes(r.group)) merged.push(r);
    else if (!placed) merged.push(...rows), (placed = true);
  }
  if (!placed) merged.push(...rows);
  latest.rows = merged;
  latest.runs = { ...latest.runs };
  for (const group of groups) latest.runs[group] = { ...run, command: `pnpm bench ${filters.join(" ")} --merge` };
  fs.writeFileSync(latestFile, JSON.stringify(latest, null, 2) + "\n");
  console.error(`merged ${groups.join(", ")} into ${path.relative(process.cwd(), latestFile)}`);
}
