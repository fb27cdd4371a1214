import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { bytes, cleanupTempDirs, hybridOverMemory, tempDir } from "./helpers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const packages = path.resolve(here, "../..");

describe("maintenance timer (fake timers)", () => {
  afterEach(() => vi.useRealTimers());

  it("demotes idle entries every maintenanceInterval and stops when closed", async () => {
    vi.useFakeTimers();
    const { tier, lower } = hybridOverMemory({ memoryBytes: 1 << 20, maintenanceInterval: 1000, demotionAfter: 5000 });
    await tier.set("k", bytes(100));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(4000);
    expect(tier.stats().memoryEntries).toBe(1);
    await vi.advanceTimersByTimeAsync(2000); // the pass at 5 s finds k idle for 5 s
    expect(tier.stats()).toMatchObject({ memoryEntries: 0, idleDemotions: 1 });
    expect(await lower.has("k")).toBe(true);
    await tier.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("runs no timer when maintenanceInterval is 0", async () => {
    vi.useFakeTimers();
    const { tier } = hybridOverMemory({ memoryBytes: 1 << 20, maintenanceInterval: 0 });
    expect(vi.getTimerCount()).toBe(0);
    await tier.close();
  });
});

/** Runs the fixture in a child node process; resolves with its exit code, or "still running" after `waitMs`. */
function runChild(
  args: string[],
  waitMs: number,
): Promise<{ code: number | null | "still running"; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(here, "fixtures", "left-open.mjs"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ code: "still running", stdout, stderr, ms: Date.now() - started });
    }, waitMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe("the maintenance timer never keeps a process alive", () => {
  beforeAll(() => {
    const missing = ["core", "memory", "disk", "hybrid"].filter((name) => !fs.existsSync(path.join(packages, name, "dist", "index.js")));
    if (missing.length > 0) {
      throw new Error(
        `build first (the child runs built JS): missing dist of ${missing.join(", ")}; run npx turbo run build --filter=@zarrs-cache/hybrid...`,
      );
    }
  });
  afterEach(cleanupTempDirs);

  it("a process that creates a hybrid tier, uses it and never closes it exits by itself", async () => {
    const result = await runChild([tempDir("left-open")], 10_000);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("ready");
    expect(result.code).toBe(0);
  });

  it("control: the same process holding a ref'd interval does not exit (the check can fail)", async () => {
    const result = await runChild([tempDir("left-open"), "--hold"], 1500);
    expect(result.stdout).toContain("ready");
    expect(result.code).toBe("still running");
  });
});
