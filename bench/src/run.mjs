// pnpm bench: runs every scenario module in src/scenarios (or those whose file name contains
// one of the command-line words), prints a table and writes results/latest.json.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
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
      console.error(`   ${r.scenario}: ${r.value} ${r.unit}${r.ratio !== undefined ? `  ×${r.ratio} vs ${r.baseline}` : ""}${r.target ? `  (target ${r.target}: ${r.pass ? "met" : "MISSED"})` : ""}`);
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
fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, rows }, null, 2) + "\n");
console.error(`\nwrote ${path.relative(process.cwd(), out)}`);
