// The fleet example end to end: node:cluster workers over one disk directory read the dataset at
// once; the fleet makes about one upstream request per distinct read. Runs the built packages.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const main = fileURLToPath(new URL("../src/main.mjs", import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zc-fleet-example-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Summary {
  workers: number;
  distinct: number;
  phases: { phase: string; upstream: number; perWorker: number[]; same: boolean }[];
}

it("3 workers reading at once make about one upstream request per distinct read, with identical bytes", () => {
  const out = execFileSync(
    process.execPath,
    [
      main,
      "--workers",
      "3",
      "--latency",
      "5",
      "--only",
      "pressure",
      "--data-dir",
      path.join(tmp, "data"),
      "--cache-dir",
      path.join(tmp, "cache"),
      "--json",
    ],
    { encoding: "utf8", timeout: 400_000 },
  );
  const summary = JSON.parse(out.trim().split("\n").pop()!) as Summary;
  const [cold, warm] = summary.phases;
  expect(summary.distinct).toBeGreaterThanOrEqual(16); // the 16 chunks of "pressure", and its metadata
  expect(cold!.same && warm!.same).toBe(true);
  expect(cold!.perWorker).toHaveLength(3);
  expect(cold!.upstream).toBeLessThanOrEqual(Math.ceil(1.1 * summary.distinct));
  expect(warm!.upstream).toBe(0);
}, 420_000);
