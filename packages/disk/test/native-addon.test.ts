import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { isZarrsCacheError } from "@zarrs-cache/core";
import { afterAll, describe, expect, it } from "vitest";
import { isNativeAddonFailure, throwIfNativeAddonFailed } from "../src/native-addon.js";

// The errors below are produced for real by the loaders better-sqlite3 uses (`bindings`, Node's dlopen);
// the whole path, from a pnpm install without build scripts to this error, runs in examples/consumers.
const requireHere = createRequire(import.meta.url);
const requireFromSqlite = createRequire(requireHere.resolve("better-sqlite3"));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "zc-native-addon-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function thrownBy(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

const addonNotBuilt = () => thrownBy(() => requireFromSqlite("bindings")({ bindings: "better_sqlite3.node", module_root: scratch }));

function addonNotLoadable(): unknown {
  const file = path.join(scratch, "better_sqlite3.node");
  fs.writeFileSync(file, "not a shared object");
  return thrownBy(() => requireHere(file));
}

describe("a failed load of better-sqlite3's native addon", () => {
  it("is recognised: an addon that was never built (install scripts skipped)", () => {
    const error = addonNotBuilt();
    expect((error as Error).message).toMatch(/Could not locate the bindings file/);
    expect(isNativeAddonFailure(error)).toBe(true);
  });

  it("is recognised: an addon file that does not load (other Node version or platform)", () => {
    const error = addonNotLoadable();
    expect((error as NodeJS.ErrnoException).code).toBe("ERR_DLOPEN_FAILED");
    expect(isNativeAddonFailure(error)).toBe(true);
  });

  it("is told apart from a problem with the cache directory", () => {
    const sqliteError = Object.assign(new Error("unable to open database file"), { code: "SQLITE_CANTOPEN" });
    const missingFile = thrownBy(() => fs.readFileSync(path.join(scratch, "missing", "cache.db")));
    const otherModule = thrownBy(() => requireHere("zz-no-such-package"));
    for (const error of [sqliteError, missingFile, otherModule, "text", undefined]) expect(isNativeAddonFailure(error)).toBe(false);
    expect(() => throwIfNativeAddonFailed(sqliteError, 'disk tier "d"')).not.toThrow();
  });

  it("is reported as a ZarrsCacheError naming better-sqlite3 and the fix for npm, pnpm and yarn", () => {
    const cause = addonNotBuilt();
    const error = thrownBy(() => throwIfNativeAddonFailed(cause, 'disk tier "tiles"'));
    expect(isZarrsCacheError(error, "INVALID_CONFIG")).toBe(true);
    const { message } = error as Error;
    expect(message).toMatch(/^disk tier "tiles": the native addon of better-sqlite3/);
    expect(message).toContain("Could not locate the bindings file");
    expect(message).not.toMatch(/cache directory/);
    for (const fix of ["npm rebuild better-sqlite3", "pnpm approve-builds", "onlyBuiltDependencies", "yarn rebuild better-sqlite3"]) {
      expect(message).toContain(fix);
    }
    expect((error as Error).cause).toBe(cause);
  });
});
