// Runs the README's example against a real HTTP server and checks each `console.log(...); // → value`.
import fs from "node:fs";
import * as core from "@zarrs-cache/core";
import * as memory from "@zarrs-cache/memory";
import * as zarrita from "@zarrs-cache/zarrita";
import * as storage from "@zarrita/storage";
import { expect, it } from "vitest";
import * as zarr from "zarrita";
import * as warming from "../src/index.js";
import os from "node:os";
import path from "node:path";
// @ts-expect-error plain ESM module of the example, no type declarations
import { writeDataset } from "../../../examples/quickstart/src/dataset.mjs";
import { serve } from "./fixtures.js";

const MODULES: Record<string, unknown> = {
  "@zarrs-cache/core": core,
  "@zarrs-cache/memory": memory,
  "@zarrs-cache/warming": warming,
  "@zarrs-cache/zarrita": zarrita,
  "@zarrita/storage": storage,
};

it("the README example runs and prints what its comments say", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-warming-readme-"));
  await writeDataset(dir, { arrays: { temperature: { shape: [16, 256, 256], chunkShape: [8, 64, 64] } } });
  const server = await serve(dir, 1);
  try {
    const text = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /```ts\n([\s\S]*?)```/.exec(text)![1]!;
    const source = block
      .replace(/^import \* as zarr from "zarrita";$/m, "const zarr = modules.zarrita;")
      .replace(/^import \{([^}]*)\} from "([^"]+)";$/gm, (_, names, from) => `const {${names}} = modules[${JSON.stringify(from)}];`);
    const expected = [...source.matchAll(/console\.log\(.*\); \/\/ → (.*)$/gm)].map((m) => m[1]!);
    const printed: string[] = [];
    const log = (...values: unknown[]) => printed.push(values.map(String).join(" "));
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
    await new AsyncFunction("modules", "url", "console", source)({ ...MODULES, zarrita: zarr }, server.url, { log });
    expect(expected).toHaveLength(2);
    expect(printed).toEqual(expected);
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
