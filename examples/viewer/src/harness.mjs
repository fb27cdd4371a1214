// Drives the viewer in Debian's Chromium (playwright-core, no browser download): used by the
// viewer's end-to-end test and by the browser benchmark.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ARRAYS, writeDataset } from "quickstart/src/dataset.mjs";
import { assertChromium, chromiumLaunchOptions } from "../../../scripts/chromium.mjs";
import { buildViewer } from "./build.mjs";
import { startViewerServer } from "./server.mjs";

/**
 * Writes the dataset (the quickstart's arrays; `arrays` picks some), builds the page, serves it
 * with `latencyMs` and opens Chromium on a profile of its own (on disk, like a user's browser).
 */
export async function startViewerHarness({ latencyMs = 20, arrays = ["wind"] } = {}) {
  assertChromium();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zarrs-cache-viewer-"));
  await writeDataset(path.join(dir, "data"), { arrays: Object.fromEntries(arrays.map((name) => [name, ARRAYS[name]])) });
  const staticDir = await buildViewer({ outdir: path.join(dir, "dist") });
  const server = await startViewerServer({ dataDir: path.join(dir, "data"), latencyMs, staticDir });
  const context = await chromium.launchPersistentContext(path.join(dir, "profile"), chromiumLaunchOptions);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));
  return {
    dir,
    server,
    page,
    errors,
    /** Opens (or reloads) the viewer on `array` and waits for its first view; `query` adds page parameters. */
    async open(array = arrays[0], { reload = false, query = "" } = {}) {
      if (reload) await page.reload();
      else await page.goto(`${server.url}/?array=${array}${query}`);
      await page.waitForFunction(() => window.viewer?.state.ready === true || window.viewer?.state.error, undefined, { timeout: 30_000 });
      if (errors.length > 0) throw errors[0];
      return page.evaluate(() => window.viewer.state.lastView);
    },
    panTo: (row, col) => page.evaluate(([r, c]) => window.viewer.panTo(r, c), [row, col]),
    flush: () => page.evaluate(() => window.viewer.flush()),
    pageUpstream: () => page.evaluate(() => window.viewer.upstream.requests),
    levels: () => page.evaluate(() => window.viewer.levels()),
    /** Empties the viewer's IndexedDB database (for a cold start without a new profile). */
    clearCache: () => page.evaluate(() => window.viewer.clear()),
    async close({ keep = [] } = {}) {
      await context.close();
      await server.close();
      for (const entry of fs.readdirSync(dir))
        if (!keep.includes(entry)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    },
  };
}
