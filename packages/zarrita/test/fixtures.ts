// Test fixtures: a small dataset written by the quickstart's own writer, served over real HTTP.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
// @ts-expect-error plain ESM modules of the example, no type declarations
import { field, writeDataset, writeV2Array } from "../../../examples/quickstart/src/dataset.mjs";
// @ts-expect-error plain ESM module of the example, no type declarations
import { startServer } from "../../../examples/quickstart/src/server.mjs";

export interface TestServer {
  url: string;
  stats: { requests: number; bytes: number; notFound: number; byPath: Map<string, number> };
  reset(): void;
  close(): Promise<void>;
}

export const SMALL_ARRAYS = {
  temperature: { shape: [16, 64, 64], chunkShape: [4, 32, 32] },
  pressure: { shape: [100, 100], chunkShape: [32, 32] },
  wind: { shape: [16, 64, 64], shardShape: [8, 32, 32], chunkShape: [4, 16, 16] },
};

export async function makeDataset(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-zarrita-"));
  await writeDataset(dir, { arrays: SMALL_ARRAYS });
  writeV2Array(path.join(dir, "legacy"), { shape: [30, 50], chunkShape: [8, 16], data: field([30, 50], 9) });
  return dir;
}

export function serve(root: string, options: { latencyMs?: number; fail?: (p: string) => number | undefined } = {}): Promise<TestServer> {
  return startServer({ root, ...options });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
