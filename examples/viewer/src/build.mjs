// Bundles the viewer page with esbuild into dist/ (index.html + viewer.js).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildViewer({ outdir = path.join(here, "..", "dist"), minify = true } = {}) {
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(outdir, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(here, "app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    sourcemap: true,
    // zarrita imports its wasm codecs (blosc, zstd, lz4) lazily: split them out of the page's bundle.
    splitting: true,
    entryNames: "viewer",
    chunkNames: "chunks/[name]-[hash]",
    outdir,
    logLevel: "warning",
  });
  fs.copyFileSync(path.join(here, "index.html"), path.join(outdir, "index.html"));
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`built ${await buildViewer()}`);
}
