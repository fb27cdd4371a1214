// The browser run (`pnpm test:browser`): test/browser/ folders of the isomorphic packages run in
// Debian's Chromium through vitest's Playwright provider (no browser download), and the viewer's
// end-to-end test drives Chromium from Node with Playwright.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { tabCommands, tabPagePlugin } from "./scripts/browser/tab-commands.ts";
import { chromiumLaunchOptions } from "./scripts/chromium.mjs";
import base from "./vitest.config.ts";

// A fresh profile per run: two runs at once (two checkouts on one machine) cannot share Chromium's
// profile lock, and no run finds another run's IndexedDB data. Removed when the run ends.
const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "zarrs-cache-chromium-profile-"));
process.once("exit", () => fs.rmSync(profileDir, { recursive: true, force: true }));

export default defineConfig({
  resolve: base.resolve,
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default", "./scripts/summary-reporter.mjs"],
    projects: [
      {
        extends: true,
        plugins: [tabPagePlugin()],
        // Scan every browser test up front: a dependency found mid-run makes Vite reload the test page.
        optimizeDeps: { entries: ["packages/*/test/browser/**/*.test.ts"] },
        test: {
          name: "chromium",
          include: ["packages/*/test/browser/**/*.test.ts"],
          globalSetup: ["./scripts/browser/global-setup.ts"],
          // One file at a time: every file shares the origin's IndexedDB quota (one test overrides it).
          fileParallelism: false,
          browser: {
            enabled: true,
            headless: true,
            // A profile on disk, like a user's browser: IndexedDB is then stored in files and the
            // origin's quota is enforced (an incognito context keeps IndexedDB in memory).
            provider: playwright({ launchOptions: chromiumLaunchOptions, persistentContext: profileDir }),
            instances: [{ browser: "chromium" }],
            commands: tabCommands,
            screenshotFailures: false,
          },
        },
      },
      {
        extends: true,
        test: {
          name: "viewer",
          include: ["examples/*/test/browser/**/*.test.ts"],
          environment: "node",
          pool: "forks",
        },
      },
    ],
  },
});
