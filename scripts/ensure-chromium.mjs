// Makes sure Debian's Chromium is there for the browser tests (browsers are never downloaded):
// installs the `chromium` package with apt-get when it is missing and we run as root (CI), and
// otherwise says how to install it. Used by `pnpm test:browser`, so the README's test command
// works on a fresh machine.
import { execSync } from "node:child_process";
import fs from "node:fs";
import { CHROMIUM_PATH } from "./chromium.mjs";

if (!fs.existsSync(CHROMIUM_PATH)) {
  if (process.getuid?.() !== 0) {
    console.error(`Chromium not found at ${CHROMIUM_PATH}: install it (sudo apt-get install -y chromium) or set CHROMIUM_PATH`);
    process.exit(1);
  }
  console.error(`Chromium not found at ${CHROMIUM_PATH}: installing Debian's chromium package`);
  execSync("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium", { stdio: "inherit" });
}
