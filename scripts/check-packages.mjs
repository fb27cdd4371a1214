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
    // Dual packages: both node16 resolutions (CommonJS `require` and ESM `import`) must find code and types.
    // (node10 is left out: it cannot see subpath exports such as @zarrs-cache/core/testing.)
    ["attw", ["--pack", ".", "--profile", "node16", "--format", "ascii"]],
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
// Isomorphic packages must load in browsers: no static import of a Node built-in in what they ship
// (a lazy `import("node:zlib")` behind a fallback is fine; the CommonJS build keeps it a lazy `import()`).
const ISOMORPHIC = ["core", "memory", "compression", "zarrita", "indexeddb", "metrics", "warming"];
for (const name of ISOMORPHIC) {
  const dist = path.join(root, "packages", name, "dist");
  for (const file of fs.readdirSync(dist).filter((f) => f.endsWith(".js") || f.endsWith(".cjs"))) {
    const text = fs.readFileSync(path.join(dist, file), "utf8");
    const builtins = "fs|path|os|zlib|crypto|url|child_process|http|net|stream|buffer|util|worker_threads";
    const builtin = String.raw`["'](node:)?(${builtins})(\/[a-z]+)?["']`;
    const topLevel = file.endsWith(".cjs")
      ? String.raw`^(var|const|let)\s[^;]*?=\s*(__toESM\()?require\(` // a top-level require in the CommonJS build
      : String.raw`^\s*import\s[^;]*?from\s*`;
    const staticNode = new RegExp(topLevel + builtin, "m").exec(text);
    if (staticNode) {
      failed++;
      console.log(`FAIL isomorphic @zarrs-cache/${name}: dist/${file} imports ${staticNode[0].trim()}`);
    }
  }
  console.log(`ok   isomorphic @zarrs-cache/${name}`);
}

if (failed) {
  console.error(`${failed} package check(s) failed`);
  process.exit(1);
}
console.log(`all ${dirs.length} packages pass publint and arethetypeswrong (node16 CommonJS and ESM)`);
