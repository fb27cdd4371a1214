import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isZarrsCacheError, type ZarrsCacheErrorCode } from "@zarrs-cache/core";
import { disk, type DiskTier } from "@zarrs-cache/disk";
import { expect } from "vitest";

/** A fresh temporary directory; `cleanupTempDirs()` removes every one made so far. */
const made: string[] = [];
export function tempDir(label = "disk"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zc-${label}-`));
  made.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** An opened disk tier (64 KiB file threshold); `closeOpenedTiers()` closes every one made so far. */
const opened: DiskTier[] = [];
export function openedTier(dir: string, maxBytes: number): DiskTier {
  const t = disk({ dir, maxBytes, fileThreshold: 64 * 1024 });
  t.open();
  opened.push(t);
  return t;
}
export async function closeOpenedTiers(): Promise<void> {
  for (const t of opened.splice(0)) await t.close().catch(() => undefined);
}

/** Deterministic pseudo-random bytes (the conformance suite's generator). */
import { testBytes as bytes } from "@zarrs-cache/core/testing";

export { bytes };

export function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(a, b) === 0;
}

/** Every file under `dir`, recursively, as paths relative to it. */
export function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

export function directoryBytes(dir: string): number {
  let total = 0;
  for (const name of listFiles(dir)) {
    const stat = fs.statSync(path.join(dir, name));
    if (stat.isFile()) total += stat.size;
  }
  return total;
}

export async function expectCode(action: Promise<unknown> | (() => unknown), code: ZarrsCacheErrorCode, mentions?: string): Promise<Error> {
  let error: unknown;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (e) {
    error = e;
  }
  expect(isZarrsCacheError(error), `expected a ZarrsCacheError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  if (mentions !== undefined) expect((error as Error).message).toContain(mentions);
  return error as Error;
}

export const distEntry = path.resolve(import.meta.dirname, "../dist/index.js");

/** Child-process tests run the built package: fail clearly when it has not been built. */
export function assertBuilt(): void {
  if (!fs.existsSync(distEntry)) {
    throw new Error(`${distEntry} is missing: build first (cd packages/disk && npx tsup)`);
  }
}

const mounted: string[] = [];

/** Mounts a tmpfs on `target` (needs root with CAP_SYS_ADMIN); false where the machine does not allow it. */
export function mountTmpfs(target: string, options: string): boolean {
  return spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", target]).status === 0 && mounted.push(target) > 0;
}

/** Changes the size of a tmpfs mounted by `mountTmpfs`. */
export function resizeTmpfs(target: string, size: string): void {
  const result = spawnSync("mount", ["-o", `remount,size=${size}`, target]);
  if (result.status !== 0) throw new Error(`cannot resize the tmpfs at ${target}: ${result.stderr}`);
}

export function unmountAll(): void {
  for (const target of mounted.splice(0)) spawnSync("umount", ["-l", target]);
}
