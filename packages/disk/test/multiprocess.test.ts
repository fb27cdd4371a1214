import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { disk } from "@zarrs-cache/disk";
import { afterAll, describe, expect, it } from "vitest";
import { checkValue } from "./fixtures/values.mjs";
import { assertBuilt, cleanupTempDirs, distEntry, tempDir } from "./helpers.js";

const hammer = path.join(import.meta.dirname, "fixtures", "hammer.mjs");
const MAX_BYTES = 1024 * 1024;

interface Summary {
  sets: number;
  reads: number;
  found: number;
  deletes: number;
  bad: string[];
  started: number;
  finished: number;
  stats: Record<string, number>;
}

function runHammer(dir: string, seed: number, ops: number): Promise<Summary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [hammer, distEntry, dir, String(seed), String(ops), String(MAX_BYTES)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => {
      try {
        const summary = JSON.parse(stdout) as Summary;
        if (code !== 0) reject(new Error(`hammer ${seed} read bad values: ${summary.bad.slice(0, 5).join("; ")}`));
        else resolve(summary);
      } catch {
        reject(new Error(`hammer ${seed} exited ${code}: ${stderr || stdout}`));
      }
    });
  });
}

describe("several processes on one directory", () => {
  afterAll(cleanupTempDirs);

  it("two processes reading, writing and evicting at once: no bad reads, exact accounting, bound held", async () => {
    assertBuilt();
    const dir = tempDir("multi");
    const [a, b] = await Promise.all([runHammer(dir, 1, 1500), runHammer(dir, 2, 1500)]);

    for (const summary of [a, b]) {
      expect(summary.bad).toEqual([]);
      expect(summary.sets).toBeGreaterThan(100);
      expect(summary.found).toBeGreaterThan(10);
      expect(summary.stats.corruptions).toBe(0);
      expect(summary.stats.errors).toBe(0);
    }
    // They really ran at the same time.
    expect(Math.max(a.started, b.started)).toBeLessThan(Math.min(a.finished, b.finished));
    // The writes far exceeded the bound, so both processes evicted.
    expect(a.stats.evictions + b.stats.evictions).toBeGreaterThan(0);

    // The totals row, updated by both processes, equals what the rows add up to: no update was lost.
    const db = new Database(path.join(dir, "zarrs-cache.sqlite"), { readonly: true });
    const totals = db.prepare("SELECT entries, bytes FROM totals").get();
    const actual = db.prepare("SELECT count(*) AS entries, coalesce(sum(size), 0) AS bytes FROM entries").get() as {
      entries: number;
      bytes: number;
    };
    const blobs = db.prepare("SELECT blob FROM entries WHERE blob IS NOT NULL").pluck().all() as string[];
    db.close();
    expect(totals).toEqual(actual);
    expect(actual.bytes).toBeLessThanOrEqual(MAX_BYTES);
    // Every value file belongs to a row: replaced and evicted values left no files behind.
    expect(fs.readdirSync(path.join(dir, "blobs")).sort()).toEqual([...blobs].sort());

    // And a third process (this one) reads every surviving entry intact.
    const tier = disk({ dir, maxBytes: MAX_BYTES, fileThreshold: 64 * 1024 });
    let survivors = 0;
    for await (const key of tier.keys()) {
      const entry = await tier.get(key);
      expect(checkValue(key, entry?.value).ok, key).toBe(true);
      survivors++;
    }
    expect(survivors).toBe(actual.entries);
    expect(tier.stats().corruptions).toBe(0);
    await tier.close();
  }, 60_000);
});
