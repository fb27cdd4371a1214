import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const pkg = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));

// Tests import each package from its TypeScript source, so a change is tested without a rebuild.
// Child processes spawned by tests (crash, multi-process) run the built dist instead.
export default defineConfig({
  resolve: {
    alias: [
      { find: "@zarrs-cache/core/testing", replacement: pkg("core/src/testing.ts") },
      { find: "@zarrs-cache/core/test-utils", replacement: pkg("core/src/test-utils.ts") },
      ...["core", "memory", "disk", "redis", "keyv", "hybrid", "compression", "zarrita", "indexeddb", "metrics", "warming"].map((name) => ({
        find: new RegExp(`^@zarrs-cache/${name}$`),
        replacement: pkg(`${name}/src/index.ts`),
      })),
    ],
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    // test/browser/ needs Chromium: `pnpm test:browser` (vitest.browser.config.ts) runs it.
    exclude: ["**/node_modules/**", "**/test/browser/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default", "./scripts/summary-reporter.mjs"],
  },
});
