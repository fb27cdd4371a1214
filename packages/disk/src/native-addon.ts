import { ZarrsCacheError } from "@zarrs-cache/core";

/**
 * better-sqlite3 loads its compiled addon (better_sqlite3.node) the first time a database is opened. When its
 * install script did not run (pnpm 10 runs none unless allowed, `--ignore-scripts`) or it was built for another
 * Node version, that load fails with an error that says nothing about the cache directory, so it must not be
 * reported as one.
 */
const ADDON_FAILURE = [
  /Could not locate the bindings file/i,
  /NODE_MODULE_VERSION/,
  /better_sqlite3\.node/,
  /Module did not self-register/i,
  /Cannot find module ['"]bindings['"]/,
];

const ADDON_ERROR_CODES = new Set(["ERR_DLOPEN_FAILED", "MODULE_NOT_FOUND", "ERR_MODULE_NOT_FOUND"]);

/** The fix for each package manager: build better-sqlite3's addon for the Node that runs the app. */
export const NATIVE_ADDON_FIX =
  "better-sqlite3 builds it when it is installed, so its install script must run: " +
  "npm: `npm rebuild better-sqlite3`; " +
  "pnpm 10 (runs no install scripts unless allowed): `pnpm approve-builds` and select better-sqlite3, or add " +
  '`"pnpm": { "onlyBuiltDependencies": ["better-sqlite3"] }` to package.json (`onlyBuiltDependencies` in ' +
  "pnpm-workspace.yaml in a workspace), then `pnpm rebuild better-sqlite3`; " +
  "yarn: `yarn rebuild better-sqlite3` (Yarn 2+, with `dependenciesMeta` better-sqlite3 `built: true` if scripts " +
  "are disabled) or `yarn install --force` (Yarn 1); " +
  "after an install with --ignore-scripts or a Node upgrade, run the same rebuild command.";

/** True when `error` is a failure to load better-sqlite3's native addon rather than a problem with the files. */
export function isNativeAddonFailure(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { message, code } = error as { message?: unknown; code?: unknown };
  if (typeof message !== "string") return false;
  if (ADDON_FAILURE.some((pattern) => pattern.test(message))) return true;
  // A missing `bindings` package or a .node file that does not load (wrong platform, wrong libc).
  return typeof code === "string" && ADDON_ERROR_CODES.has(code) && /bindings|better[-_]sqlite3|\.node\b/.test(message);
}

/** Throws a ZarrsCacheError naming better-sqlite3 and the fix when `error` is a failed load of its addon. */
export function throwIfNativeAddonFailed(error: unknown, owner: string): void {
  if (!isNativeAddonFailure(error)) return;
  const reason = (error as Error).message.split("\n")[0];
  throw new ZarrsCacheError(
    "INVALID_CONFIG",
    `${owner}: the native addon of better-sqlite3 (the SQLite driver) could not be loaded (${reason}). ${NATIVE_ADDON_FIX}`,
    { cause: error },
  );
}
