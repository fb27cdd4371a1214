// Runs publint and arethetypeswrong on every publishable package (each must be built first).
// Fails on any error, so a package that would install broken never ships.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const dirs = fs
  .readdirSync(path.join(root, "packages"))
  .map((d) => path.join(root, "packages", d))
  .filter((d) => fs.existsSync(path.join(d, "package.json")) && !JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8")).private);

let failed = 0;
const bin = (name) => path.join(root, "node_modules", ".bin", name);
for (const dir of dirs) {
  const name = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name;
  for (const [tool, args] of [
    ["publint", ["--strict"]],
    // ESM-only by design: the CommonJS resolution modes are expected to have no entry.
    ["attw", ["--pack", ".", "--profile", "esm-only", "--format", "ascii"]],
  ]) {
    try {
      execFileSync(bin(tool), args, { cwd: dir, stdio: "pipe", encoding: "utf8" });
      console.log(`ok   ${tool.padEnd(8)} ${name}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${tool.padEnd(8)} ${name}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    }
  }
}
if (failed) {
  console.error(`${failed} package check(s) failed`);
  process.exit(1);
}
console.log(`all ${dirs.length} packages pass publint and arethetypeswrong`);
