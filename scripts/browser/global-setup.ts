/// <reference path="../../packages/zarrita/test/browser/provided.d.ts" />
// Before the browser tests: writes a small zarr v3 dataset (one plain and one sharded float32
// array, with the quickstart's writer) into a temp folder and serves it on 127.0.0.1 with CORS,
// so tests in the page read real arrays over HTTP. Tests get the URL and the expected values by inject().
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { field, writeDataset } from "../../examples/quickstart/src/dataset.mjs";
import { startViewerServer } from "../../examples/viewer/src/server.mjs";

export const TEST_ARRAYS = {
  plain: { shape: [48, 40], chunkShape: [16, 16] },
  sharded: { shape: [32, 64], shardShape: [16, 32], chunkShape: [8, 8] },
};

export default async function setup(project: TestProject) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zarrs-cache-browser-"));
  await writeDataset(dir, { arrays: TEST_ARRAYS });
  const server = await startViewerServer({ dataDir: dir, latencyMs: 0, cors: true });
  // writeDataset seeds the arrays 1, 2, … in order.
  const expected = Object.fromEntries(
    Object.entries(TEST_ARRAYS).map(([name, spec], i) => [
      name,
      { shape: spec.shape, values: Array.from(field(spec.shape, i + 1) as Float32Array) },
    ]),
  );
  project.provide("zarrUrl", server.dataUrl);
  project.provide("zarrExpected", expected);
  return async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
