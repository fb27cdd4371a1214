import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { disk } from "@zarrs-cache/disk";
import { afterAll, describe, expect, it } from "vitest";
import { checkValue } from "./fixtures/values.mjs";
import { assertBuilt, cleanupTempDirs, distEntry, tempDir } from "./helpers.js";

const KEYS = 40;
const ROUNDS = 12;
const writer = path.join(import.meta.dirname, "fixtures", "crash-writer.mjs");

/** Starts the writer, lets it run `ms` after it is ready, then SIGKILLs it mid-flight. */
async function runAndKill(dir: string, seed: number, ms: number): Promise<void> {
  const child = spawn(process.execPath, [writer, distEntry, dir, String(seed), String(KEYS)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error(`writer did not start: ${stderr}`)), 15_000);
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) {
        clearTimeout(timeout);
        resolve();
      }
    });
    child.on("exit", () => reject(new Error(`writer exited early: ${stderr}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
}

/** The database's own view: its totals row against the rows, and the value files rows point at. */
function inspect(dir: string) {
  const db = new Database(path.join(dir, "zarrs-cache.sqlite"), { readonly: true });
  try {
    const totals = db.prepare("SELECT entries, bytes FROM totals").get() as { entries: number; bytes: number };
    const actual = db.prepare("SELECT count(*) AS entries, coalesce(sum(size), 0) AS bytes FROM entries").get() as {
      entries: number;
      bytes: number;
    };
    const blobs = db.prepare("SELECT blob FROM entries WHERE blob IS NOT NULL").pluck().all() as string[];
    return { totals, actual, blobs };
  } finally {
    db.close();
  }
}

describe("crash safety (writer SIGKILLed at random moments)", () => {
  afterAll(cleanupTempDirs);

  it(`never serves a torn or wrong entry after ${ROUNDS} kills, and reopens without repair`, async () => {
    assertBuilt();
    const dir = tempDir("crash");
    const started = Date.now();
    let checked = 0;
    let found = 0;
    for (let round = 1; round <= ROUNDS && Date.now() - started < 25_000; round++) {
      await runAndKill(dir, round, 30 + ((round * 37) % 250));

      const tier = disk({ dir, maxBytes: 4 * 1024 * 1024, fileThreshold: 64 * 1024 });
      tier.open();
      const listed = new Set<string>();
      for await (const key of tier.keys("crash/")) listed.add(key);
      for (let k = 0; k < KEYS; k++) {
        const key = `crash/${k}`;
        const entry = await tier.get(key);
        checked++;
        if (entry === undefined) continue;
        found++;
        const check = checkValue(key, entry.value);
        expect(check.ok, `round ${round}, ${key}: ${check.ok ? "" : check.why}`).toBe(true);
        expect(listed.has(key)).toBe(true);
      }
      const stats = tier.stats();
      expect(stats.corruptions, `round ${round}: a crash must not leave damaged entries`).toBe(0);
      expect(stats.errors).toBe(0);
      expect(stats.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
      await tier.close();

      // The accounting survived the kill exactly, and every file a row points at exists.
      const { totals, actual, blobs } = inspect(dir);
      expect(totals).toEqual(actual);
      for (const blob of blobs) expect(fs.existsSync(path.join(dir, "blobs", blob)), `file of a row, round ${round}`).toBe(true);
    }
    expect(checked).toBeGreaterThanOrEqual(KEYS * 4);
    expect(found).toBeGreaterThan(0);
  }, 60_000);
});
