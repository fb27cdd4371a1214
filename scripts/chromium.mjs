// The one place that says how tests and benchmarks launch Chromium: Debian's `chromium`
// (installed by .ci/run when missing), never a downloaded browser build. Headless, as root.
import fs from "node:fs";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--headless",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Options for playwright's `chromium.launch()` (and vitest's playwright provider). */
export const chromiumLaunchOptions = { executablePath: CHROMIUM_PATH, headless: true, args: chromiumArgs };

/** Throws a clear error when Chromium is missing, instead of a playwright stack about downloads. */
export function assertChromium() {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
}
