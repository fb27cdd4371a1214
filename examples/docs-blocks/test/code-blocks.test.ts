// Every fenced code block of the READMEs and docs/ runs here: ts/js blocks as real programs in a
// child process (real tiers, the local Redis, a real HTTP server with zarr data), with each
// `console.log(x); // → value` checked; json blocks parse; shell blocks' install lines name
// every package the page imports and their `pnpm <script>` commands exist. See ../README.md.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FileSystemStore } from "@zarrita/storage";
import Redis from "ioredis";
import * as zarr from "zarrita";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM modules of the examples, no type declarations
import { writeDataset } from "../../quickstart/src/dataset.mjs";
// @ts-expect-error plain ESM module of the example, no type declarations
import { startServer } from "../../quickstart/src/server.mjs";
// @ts-expect-error plain ESM module, no type declarations
import { extractBlocks, importedPackages } from "../src/extract.mjs";
// @ts-expect-error plain ESM module, no type declarations
import { importLines, prepareBlock } from "../src/prepare.mjs";
// @ts-expect-error plain ESM module, no type declarations
import { installedBy, pnpmScripts } from "../src/shell-checks.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../../..");
const RUN_DIR = path.join(HERE, "../.run");
/** Pages whose ts blocks need IndexedDB: a test in Chromium runs them (packages/indexeddb/test/browser/readme.test.ts). */
const BROWSER_PAGES = new Set(["packages/indexeddb/README.md", "docs/browser.md"]);

type Block = { file: string; line: number; lang: string; info: string[]; code: string };

function pages(): string[] {
  const found = ["README.md", "CONTRIBUTING.md"].filter((f) => fs.existsSync(path.join(ROOT, f)));
  for (const dir of ["packages", "examples"]) {
    for (const name of fs.readdirSync(path.join(ROOT, dir))) {
      if (fs.existsSync(path.join(ROOT, dir, name, "README.md"))) found.push(`${dir}/${name}/README.md`);
    }
  }
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory() && !entry.name.startsWith(".") && entry.name !== "node_modules") walk(rel);
      else if (entry.name.endsWith(".md")) found.push(rel);
    }
  };
  walk("docs");
  return found;
}

const CODE = new Set(["ts", "typescript", "js", "javascript", "mjs"]);
const SHELL = new Set(["sh", "bash", "shell", "console"]);
const PAGES = pages().map((page) => ({ page, blocks: extractBlocks(path.join(ROOT, page)) as Block[] }));

let server: { url: string; close(): Promise<void> };
let dataDir: string;
beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-docs-blocks-"));
  // `url` in a block: a group with the arrays the docs read.
  await writeDataset(path.join(dataDir, "group.zarr"), {
    arrays: { temperature: { shape: [16, 256, 256], chunkShape: [8, 64, 64] } },
  });
  // https://example.com/data.zarr in a block: an array at the root.
  const array = await zarr.create(zarr.root(new FileSystemStore(path.join(dataDir, "array.zarr"))), {
    shape: [4, 64, 64],
    chunkShape: [1, 32, 32],
    dtype: "float32",
  });
  await zarr.set(array, null, 1.5);
  server = await startServer({ root: dataDir, latencyMs: 1 });
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
});
afterAll(async () => {
  // The Redis examples write under "zc:era5:" in the local Redis.
  const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await redis.keys("zc:era5:*");
    if (keys.length > 0) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const VITEST = path.join(ROOT, "node_modules/vitest/vitest.mjs");

/** This process's environment without vitest's own variables (a `ts vitest` block starts a fresh vitest). */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST") && name !== "NODE_OPTIONS"));
}

function runBlock(block: Block, id: string, inherited: string[]): Promise<{ code: number | null; output: string }> {
  const { file, url, annotations } = prepareBlock(block, RUN_DIR, id, inherited);
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "zc-docs-block-"));
  const config = path.join(RUN_DIR, "vitest.config.mjs");
  if (block.info.includes("vitest")) fs.writeFileSync(config, 'export default { test: { include: ["*.test.mjs"] } };\n');
  const args = block.info.includes("vitest")
    ? [VITEST, "run", file, "--root", RUN_DIR, "--config", config, "--reporter", "default"]
    : [path.join(HERE, "../src/run-block.mjs"), url, String(annotations)];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...childEnv(), DOCS_BLOCKS_SERVER: server.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    // Generous: a loaded CI machine is slow; a hung block still fails.
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      fs.rmSync(cwd, { recursive: true, force: true });
      resolve({ code, output });
    });
  });
}

const CHECKED = (b: Block) => CODE.has(b.lang) || SHELL.has(b.lang) || b.lang === "json";

for (const { page, blocks } of PAGES) {
  if (!blocks.some(CHECKED)) continue; // prose only (or output blocks)
  describe.concurrent(page, () => {
    const imported = new Set<string>();
    for (const b of blocks) if (CODE.has(b.lang)) for (const name of importedPackages(b.code)) imported.add(name);

    for (const [i, block] of blocks.entries()) {
      const where = `line ${block.line} (${block.lang || "no language"})`;
      if (CODE.has(block.lang)) {
        if (importedPackages(block.code).has("@zarrs-cache/indexeddb")) {
          it(`${where}: runs in Chromium`, () =>
            expect(BROWSER_PAGES.has(page), `${page} needs IndexedDB: add it to the browser run`).toBe(true));
          continue;
        }
        it(`${where}: runs and prints what its comments say`, async () => {
          const id = `${page.replace(/[^\w]+/g, "-")}-${i}`;
          const inherited = blocks
            .slice(0, i)
            .filter((b) => CODE.has(b.lang))
            .flatMap((b) => importLines(b.code));
          const { code, output } = await runBlock(block, id, inherited);
          expect(code, `${page}:${block.line} failed:\n${output}`).toBe(0);
        }, 150_000);
      } else if (block.lang === "json") {
        it(`${where}: parses`, () => expect(() => JSON.parse(block.code)).not.toThrow());
      } else if (SHELL.has(block.lang)) {
        it(`${where}: installs what the page imports; its pnpm scripts exist`, () => {
          const lines = block.code
            .split("\n")
            .map((l) => installedBy(l))
            .filter(Boolean) as string[][];
          if (lines.length > 0) {
            const installed = new Set(lines.flat());
            const missing = [...imported].filter((name) => !installed.has(name) && !name.startsWith("node:"));
            expect(missing, `${page}: the install line leaves out packages its examples import`).toEqual([]);
          }
          const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;
          for (const name of pnpmScripts(block.code)) expect(scripts[name], `pnpm ${name} in ${page}`).toBeDefined();
        });
      }
    }
  });
}
