// Bundle sizes (minified + gzip) of what a browser app loads up front for zarrs-cache, and a limit
// for each: CI fails when a bundle grows past its limit, so growth is always a decision. Each
// entry is bundled by esbuild from the built packages (dist/, as users get them), with zarrita's
// lazily imported wasm codecs split out (they load only for arrays that use them).
//
//   node scripts/check-size.mjs           check the limits
//   node scripts/check-size.mjs --write   also rewrite the table in packages/indexeddb/README.md
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The viewer example depends on every package measured here (and on esbuild).
const resolveDir = path.join(root, "examples", "viewer");
const esbuild = createRequire(path.join(resolveDir, "package.json"))("esbuild");

const READ = `
const arr = await zarr.open(withCache(new zarr.FetchStore(location.href), cache), { kind: "array" });
console.log(await zarr.get(arr, null));`;

/**
 * Limits in bytes of the gzipped up-front bundle; raise one only on purpose, saying why in the commit.
 * Raised by 3 KB when core gained flights with timeouts and cancellation, read-after-change
 * bookkeeping, the versioned key encoding and option checks with a "did you mean" (issue 8); by
 * 1 KB more for the prefetch queue (demand first, priorities) and event timing that the warming
 * and metrics plugins rely on; by 0.5 KB for holds (a change whose lower-tier update failed holds
 * the shared tiers above it). The array model stays out unless a plugin imports it.
 */
const BUNDLES = [
  {
    name: "core + memory + zarrita",
    // 31 000 until 2026-12-02, then +4.5 KB on purpose: copy "auto" and coalesced range reads
    // (issue 12), holds (issue 8), batched hits for plugins (issue 11), the demand-first gate
    // (issue 10), per-call TTLs and once/off (issue 15), the tier kit (issue 9).
    limit: 35_500,
    source: `import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import * as zarr from "zarrita";
const cache = createCache().tier(memory({ maxBytes: 64 << 20 })).build();${READ}`,
  },
  {
    name: "core + memory + zarrita + indexeddb",
    limit: 39_500, // as above (35 000 before)
    source: `import { createCache } from "@zarrs-cache/core";
import { indexedDb } from "@zarrs-cache/indexeddb";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import * as zarr from "zarrita";
const cache = createCache().tier(memory({ maxBytes: 64 << 20 })).tier(indexedDb({ maxBytes: 512 << 20 })).build();${READ}`,
  },
];

async function measure(source) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "zarrs-cache-size-"));
  try {
    const result = await esbuild.build({
      stdin: { contents: source, resolveDir, loader: "js" },
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      splitting: true,
      outdir,
      entryNames: "entry",
      tsconfigRaw: {}, // resolve @zarrs-cache/* through node_modules to dist/, not to the sources
      metafile: true,
      logLevel: "error",
    });
    const entry = fs.readFileSync(path.join(outdir, "entry.js"));
    // Chunks the entry imports statically load up front too; dynamically imported ones do not.
    const eager = [entry];
    const meta = result.metafile.outputs[path.relative(process.cwd(), path.join(outdir, "entry.js"))];
    if (!meta) throw new Error("esbuild metafile has no entry.js output");
    for (const imported of meta.imports) {
      if (imported.kind === "import-statement") eager.push(fs.readFileSync(path.resolve(process.cwd(), imported.path)));
    }
    const code = Buffer.concat(eager);
    return { min: code.length, gzip: zlib.gzipSync(code, { level: 9 }).length };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

for (const pkg of ["core", "memory", "zarrita", "indexeddb"]) {
  if (!fs.existsSync(path.join(root, "packages", pkg, "dist", "index.js"))) {
    console.error(`packages/${pkg}/dist is missing: build first (pnpm build)`);
    process.exit(1);
  }
}

let failed = 0;
const rows = [];
for (const bundle of BUNDLES) {
  const size = await measure(bundle.source);
  const ok = size.gzip <= bundle.limit;
  if (!ok) failed++;
  rows.push({ ...bundle, ...size });
  console.log(
    `${ok ? "ok  " : "FAIL"} ${bundle.name.padEnd(36)} ${kb(size.min)} min, ${kb(size.gzip)} min+gzip (limit ${kb(bundle.limit)})`,
  );
}
console.log(`indexeddb adds ${kb(rows[1].gzip - rows[0].gzip)} min+gzip`);

if (process.argv.includes("--write")) {
  const readme = path.join(root, "packages", "indexeddb", "README.md");
  const table = [
    "| bundle (esbuild, minified) | min | min+gzip | limit (min+gzip) |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.name} | ${kb(r.min)} | ${kb(r.gzip)} | ${kb(r.limit)} |`),
  ].join("\n");
  const text = fs.readFileSync(readme, "utf8");
  fs.writeFileSync(readme, text.replace(/<!-- size:start -->[\s\S]*<!-- size:end -->/, `<!-- size:start -->\n${table}\n<!-- size:end -->`));
  console.log(`wrote the table into ${path.relative(root, readme)}`);
}

if (failed) {
  console.error(`${failed} bundle(s) over their size limit`);
  process.exit(1);
}

function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
