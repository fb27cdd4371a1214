// The browser run (`pnpm test:browser`): test/browser/ folders of the isomorphic packages run in
// Debian's Chromium through vitest's Playwright provider (no browser download), and the viewer's
// end-to-end test drives Chromium from Node with Playwright.
import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { tabCommands, tabPagePlugin } from "./scripts/browser/tab-commands.ts";
import { chromiumLaunchOptions } from "./scripts/chromium.mjs";
import base from "./vitest.config.ts";

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
        // Pre-bundled up front: a dependency found mid-run makes Vite reload the test page.
        optimizeDeps: { include: ["@zarrita/storage", "lru-cache", "zarrita", "fflate", "idb"] },
        test: {
          name: "chromium",
          include: ["packages/*/test/browser/**/*.test.ts"],
          globalSetup: ["./scripts/browser/global-setup.ts"],
          // One file at a time: every file shares the origin's IndexedDB quota (one test overrides it).
          fileParallelism: false,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: chromiumLaunchOptions }),
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
