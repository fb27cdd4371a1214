// Test data: small arrays of every key shape (v2 "." and "/", v3 "c/" and "c.", sharded), written
// with zarrita and the quickstart's writers into a temporary folder and served over real HTTP.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileSystemStore } from "@zarrita/storage";
import * as zarr from "zarrita";
// @ts-expect-error plain ESM modules of the example, no type declarations
import { field, stridesOf, writeDataset, writeV2Array } from "../../../examples/quickstart/src/dataset.mjs";
// @ts-expect-error plain ESM module of the example, no type declarations
import { startServer } from "../../../examples/quickstart/src/server.mjs";

export interface TestServer {
  url: string;
  stats: { requests: number; bytes: number; notFound: number; byPath: Map<string, number> };
  reset(): void;
  close(): Promise<void>;
}

/** Every array has a 3×3 grid with edge chunks (10/4), except `scan` (10×10) and `sharded` (inner 4×4, shards 2×2). */
export const ARRAYS = {
  v3slash: { shape: [10, 10], chunkShape: [4, 4] },
  scan: { shape: [40, 40], chunkShape: [4, 4] },
  sharded: { shape: [16, 16], shardShape: [8, 8], chunkShape: [4, 4] },
};

export async function makeArrays(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-warming-"));
  await writeDataset(dir, { arrays: ARRAYS });
  const root = zarr.root(new FileSystemStore(dir));
  const dotted = await zarr.create(root.resolve("v3dot"), { shape: [10, 10], chunkShape: [4, 4], dtype: "float32", chunkSeparator: "." });
  await zarr.set(dotted, null, { data: field([10, 10], 7), shape: [10, 10], stride: stridesOf([10, 10]) });
  writeV2Array(path.join(dir, "v2dot"), { shape: [10, 10], chunkShape: [4, 4], data: field([10, 10], 8), separator: "." });
  writeV2Array(path.join(dir, "v2slash"), { shape: [10, 10], chunkShape: [4, 4], data: field([10, 10], 9), separator: "/" });
  return dir;
}

export function serve(root: string, latencyMs = 5): Promise<TestServer> {
  return startServer({ root, latencyMs });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Paths requested that are not metadata (chunks and shards), sorted. */
export function chunkPaths(server: TestServer): string[] {
  return [...server.stats.byPath.keys()].filter((p) => !/(zarr\.json|\.zarray|\.zattrs|\.zgroup|\.zmetadata)$/.test(p)).sort();
}
