// The main job end to end, in real processes: a first run fills memory + disk, a second run (a new
// process) reads everything from disk with zero upstream requests. Runs the built packages.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const main = fileURLToPath(new URL("../src/main.mjs", import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zc-quickstart-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Summary {
  phases: { phase: string; "upstream requests": number; "same bytes": string }[];
  levels: { name: string; hits: number }[];
}

function run(...extra: string[]): Summary {
  const out = execFileSync(
    process.execPath,
    [main, "--latency", "0", "--data-dir", path.join(tmp, "data"), "--cache-dir", path.join(tmp, "cache"), "--json", ...extra],
    { encoding: "utf8", timeout: 120_000 },
  );
  return JSON.parse(out.trim().split("\n").pop()!);
}

it("serves a second run in a new process from disk, with identical bytes", () => {
  const first = run("--fresh");
  expect(first.phases.map((p) => p["same bytes"])).toEqual(["yes", "yes", "yes"]);
  const uncachedRequests = first.phases[0]!["upstream requests"];
  expect(uncachedRequests).toBeGreaterThan(400);
  expect(first.phases[1]!["upstream requests"]).toBe(uncachedRequests); // cold: every request once
  expect(first.phases[2]!["upstream requests"]).toBe(0); // warm

  const second = run();
  expect(second.phases[1]!.phase).toBe("first read (disk warm)");
  expect(second.phases[1]!["upstream requests"]).toBe(0);
  expect(second.phases.map((p) => p["same bytes"])).toEqual(["yes", "yes", "yes"]);
  expect(second.levels.find((l) => l.name === "disk")!.hits).toBeGreaterThan(400);
}, 240_000);
