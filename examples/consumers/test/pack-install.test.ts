import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What a user gets from the registry: every package packed with `pnpm pack` (workspace:^ turned into versions),
// installed from the tarballs into fresh npm and pnpm projects, then run as CommonJS and ESM and type-checked
// with moduleResolution node16 and bundler. Installing compiles better-sqlite3 once, with npm (about 75 s on a
// quiet machine); the pnpm project installs meanwhile without build scripts (pnpm 10's default), shows the error
// an unbuilt addon gives, then gets the addon npm compiled (same better-sqlite3 version, same Node) where its
// own build would put it, so one compile serves both.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const fixtures = path.join(here, "../fixtures");
const PACKAGES = ["core", "memory", "disk", "redis", "keyv", "hybrid", "compression", "zarrita"];
const INSTALL_MS = 600_000;

let work: string;
let arrayDir: string;
const tarballs: Record<string, string> = {};
let addonCompiledByNpm: (dir: string) => void;
let npmFailed: (error: unknown) => void;
/** The better-sqlite3 package directory of the npm project, once its install has compiled the addon. */
const npmSqlite = new Promise<string>((resolve, reject) => ((addonCompiledByNpm = resolve), (npmFailed = reject)));
npmSqlite.catch(() => undefined);

/** The machine's environment without what a surrounding `pnpm run` exports (it would reconfigure the installs). */
const cleanEnv = Object.fromEntries(
  Object.entries({ ...process.env, JOBS: "2" }).filter(([key]) => !/^(npm_|pnpm_|PNPM_|VITEST|NODE_OPTIONS$)/i.test(key)),
) as NodeJS.ProcessEnv; // JOBS: node-gyp compiles SQLite and the binding side by side

type Outcome = { status: number | null; stdout: string; stderr: string };

function run(command: string, args: string[], cwd: string, timeout = INSTALL_MS): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: cleanEnv, timeout, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.on("error", (error) => (stderr += String(error)));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

async function ok(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** A zarr v3 int32 array 4×4 in 2×2 chunks, raw little-endian bytes, holding 0..15: written by hand, read by zarrita. */
function writeArray(dir: string): void {
  const meta = {
    zarr_format: 3,
    node_type: "array",
    shape: [4, 4],
    data_type: "int32",
    chunk_grid: { name: "regular", configuration: { chunk_shape: [2, 2] } },
    chunk_key_encoding: { name: "default", configuration: { separator: "/" } },
    fill_value: 0,
    codecs: [{ name: "bytes", configuration: { endian: "little" } }],
    attributes: {},
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "zarr.json"), JSON.stringify(meta));
  for (const ci of [0, 1]) {
    for (const cj of [0, 1]) {
      const values = [0, 1].flatMap((i) => [0, 1].map((j) => (ci * 2 + i) * 4 + (cj * 2 + j)));
      fs.mkdirSync(path.join(dir, "c", String(ci)), { recursive: true });
      fs.writeFileSync(path.join(dir, "c", String(ci), String(cj)), Buffer.from(new Int32Array(values).buffer));
    }
  }
}

/** A fresh consumer project: the tarballs (forced for transitive uses too), zarrita, and the fixture programs. */
function project(name: string, manager: "npm" | "pnpm"): string {
  const dir = path.join(work, name);
  fs.cpSync(fixtures, dir, { recursive: true });
  const ours = Object.fromEntries(PACKAGES.map((p) => [`@zarrs-cache/${p}`, `file:${tarballs[p]}`]));
  const pkg: Record<string, unknown> = {
    name: `zc-consumer-${name}`,
    version: "1.0.0",
    private: true,
    dependencies: { ...ours, zarrita: "^0.7.5", "@zarrita/storage": "^0.2.0" },
  };
  if (manager === "npm") pkg.overrides = ours;
  else pkg.pnpm = { overrides: ours };
  fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  fs.cpSync(path.join(fixtures, "read-array.cjs"), path.join(dir, "read-array.js")); // CommonJS: npm's default "type"
  return dir;
}

function readArray(dir: string, program: string, cacheDir: string): Promise<Outcome> {
  return run(process.execPath, [program, arrayDir, path.join(work, cacheDir)], dir, 60_000);
}

function expectRead(result: Outcome, format: string): { sum: number; upstream: number } {
  expect(result.stderr, result.stdout).toBe("");
  expect(result.status).toBe(0);
  const report = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  expect(report.format).toBe(format);
  expect(report.sum).toBe(120); // 0 + 1 + … + 15
  return report;
}

async function typeCheck(dir: string): Promise<void> {
  const types = path.join(dir, "types");
  const source = fs.readFileSync(path.join(types, "every-package.ts"), "utf8");
  fs.writeFileSync(path.join(types, "check.mts"), source); // node16, ESM file: the `import` conditions
  fs.writeFileSync(path.join(types, "check.cts"), source); // node16, CommonJS file: the `require` conditions
  const base = { target: "es2022", strict: true, noEmit: true, skipLibCheck: true, types: [] };
  const configs = {
    node16: { compilerOptions: { ...base, module: "node16", moduleResolution: "node16" }, files: ["check.mts", "check.cts"] },
    bundler: { compilerOptions: { ...base, module: "esnext", moduleResolution: "bundler" }, files: ["every-package.ts"] },
  };
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
  for (const [name, config] of Object.entries(configs)) {
    fs.writeFileSync(path.join(types, `tsconfig.${name}.json`), JSON.stringify(config));
    const result = await run(process.execPath, [tsc, "-p", `tsconfig.${name}.json`], types, 120_000);
    expect(`${name}: ${result.stdout}${result.stderr}`).toBe(`${name}: `);
    expect(result.status).toBe(0);
  }
}

beforeAll(() => {
  for (const p of PACKAGES) {
    if (!fs.existsSync(path.join(root, "packages", p, "dist", "index.cjs"))) {
      throw new Error(`packages/${p}/dist is not built: run \`pnpm build\` first`);
    }
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), "zc-pack-"));
  const packed = path.join(work, "tarballs");
  const pnpm = path.join(root, "node_modules", ".bin", "pnpm");
  for (const p of PACKAGES) {
    const cwd = path.join(root, "packages", p);
    const out = execFileSync(pnpm, ["pack", "--pack-destination", packed], { cwd, env: cleanEnv, encoding: "utf8" });
    tarballs[p] = out.trim().split("\n").at(-1)!.trim();
    expect(fs.existsSync(tarballs[p]!), out).toBe(true);
  }
  arrayDir = path.join(work, "array.zarr");
  writeArray(arrayDir);
}, 120_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.concurrent("the packed packages in fresh projects", () => {
  it(
    "npm: CommonJS and ESM programs read a zarr array through memory + disk, and the types check",
    async () => {
      const dir = project("npm", "npm");
      await ok("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], dir).catch((error) => {
        npmFailed(error);
        throw error;
      });
      addonCompiledByNpm(path.join(dir, "node_modules", "better-sqlite3"));
      const cold = expectRead(await readArray(dir, "read-array.js", "npm-cache"), "cjs");
      expect(cold.upstream).toBeGreaterThan(0);
      // A second process, the other module format, the same disk directory: every read is a disk hit.
      const warm = expectRead(await readArray(dir, "esm/read-array.js", "npm-cache"), "esm");
      expect(warm.upstream).toBe(0);
      await typeCheck(dir);
    },
    INSTALL_MS * 2,
  );

  it(
    "pnpm 10 without build scripts: disk() names better-sqlite3 and the fix; with the addon built, both formats read",
    async () => {
      const dir = project("pnpm", "pnpm");
      const pnpm = path.join(root, "node_modules", ".bin", "pnpm");
      await ok(pnpm, ["install", "--no-frozen-lockfile", "--reporter=append-only"], dir);
      const unbuilt = await readArray(dir, "esm/read-array.js", "pnpm-cache");
      expect(unbuilt.status).toBe(1);
      expect(unbuilt.stderr).toMatch(/^ZarrsCacheError INVALID_CONFIG: disk tier "disk": the native addon of better-sqlite3/);
      for (const fix of ["npm rebuild better-sqlite3", "pnpm approve-builds", "onlyBuiltDependencies", "yarn"]) {
        expect(unbuilt.stderr).toContain(fix);
      }
      expect(unbuilt.stderr).not.toMatch(/cannot hold the cache/);

      // What the allowed build (`pnpm approve-builds`, then `pnpm rebuild better-sqlite3`) produces: the compiled addon.
      const built = await npmSqlite;
      const [store] = fs.readdirSync(path.join(dir, "node_modules", ".pnpm")).filter((d) => d.startsWith("better-sqlite3@"));
      const sqlite = path.join(dir, "node_modules", ".pnpm", store!, "node_modules", "better-sqlite3");
      const version = (d: string) => JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8")).version;
      expect(version(sqlite)).toBe(version(built));
      const addon = path.join("build", "Release", "better_sqlite3.node");
      fs.mkdirSync(path.dirname(path.join(sqlite, addon)), { recursive: true });
      fs.copyFileSync(path.join(built, addon), path.join(sqlite, addon));
      expectRead(await readArray(dir, "read-array.js", "pnpm-cache"), "cjs");
      expect(expectRead(await readArray(dir, "esm/read-array.js", "pnpm-cache"), "esm").upstream).toBe(0);
    },
    INSTALL_MS * 2,
  );
});
