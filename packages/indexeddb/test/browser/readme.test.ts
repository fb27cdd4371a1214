// The code blocks that need IndexedDB (the README's and docs/browser.md's) run here, in Chromium;
// examples/docs-blocks runs every other block of the docs in Node and defers these pages to this test.
// Each `console.log(x); // → value` is checked against what it printed.
import * as core from "@zarrs-cache/core";
import * as indexeddb from "@zarrs-cache/indexeddb";
import * as memory from "@zarrs-cache/memory";
import * as zarrita from "@zarrs-cache/zarrita";
import { deleteDB } from "idb";
import { expect, it } from "vitest";
import * as zarr from "zarrita";
import browserDoc from "../../../../docs/browser.md?raw";
import readme from "../../README.md?raw";

const MODULES: Record<string, unknown> = {
  "@zarrs-cache/core": core,
  "@zarrs-cache/indexeddb": indexeddb,
  "@zarrs-cache/memory": memory,
  "@zarrs-cache/zarrita": zarrita,
  zarrita: zarr,
};
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const show = (value: unknown) => (typeof value === "string" ? value : value === undefined ? "undefined" : JSON.stringify(value));

for (const [page, text] of [
  ["packages/indexeddb/README.md", readme],
  ["docs/browser.md", browserDoc],
] as const) {
  it(`${page}: every ts block runs in a browser and prints what its comments say`, async () => {
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length, `ts blocks in ${page}`).toBeGreaterThan(0);
    for (const block of blocks) {
      const source = block
        .replace(/^import \* as (\w+) from "([^"]+)";$/gm, (_, name, from) => `const ${name} = modules[${JSON.stringify(from)}];`)
        .replace(/^import \{([^}]*)\} from "([^"]+)";$/gm, (_, names, from) => {
          expect(MODULES[from], `${page} imports ${from}`).toBeDefined();
          return `const {${names}} = modules[${JSON.stringify(from)}];`;
        });
      const expected = [...source.matchAll(/console\.log\(.*\); \/\/ → (.*)$/gm)].map((m) => m[1]!.replace(/ \([^()]*\)$/, ""));
      const printed: string[] = [];
      const log = (...values: unknown[]) => printed.push(values.map(show).join(" "));
      await new AsyncFunction("modules", "console", `${source}\nawait cache.close();`)(MODULES, { log });
      expect(printed).toEqual(expected);
    }
    await deleteDB("my-viewer");
  });
}
