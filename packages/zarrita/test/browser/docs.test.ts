// Runs the first example of docs/browser.md in Chromium (it builds the cache and the store; no network).
import * as core from "@zarrs-cache/core";
import * as indexeddb from "@zarrs-cache/indexeddb";
import * as memory from "@zarrs-cache/memory";
import * as zarrita from "@zarrs-cache/zarrita";
import { expect, it } from "vitest";
import * as zarr from "zarrita";
import doc from "../../../../docs/browser.md?raw";

it("the first example of docs/browser.md runs in a browser", async () => {
  const block = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(block).toBeDefined();
  const modules: Record<string, unknown> = {
    "@zarrs-cache/core": core,
    "@zarrs-cache/indexeddb": indexeddb,
    "@zarrs-cache/memory": memory,
    "@zarrs-cache/zarrita": zarrita,
    zarrita: zarr,
  };
  const source = block!
    .replace(/^import \{([^}]*)\} from "([^"]+)";$/gm, (_, names, from) => `const {${names}} = modules[${JSON.stringify(from)}];`)
    .replace(/^import \* as (\w+) from "([^"]+)";$/gm, (_, name, from) => `const ${name} = modules[${JSON.stringify(from)}];`);
  expect(source).not.toMatch(/^import /m);
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const store = await new AsyncFunction("modules", `${source}\nawait cache.close();\nreturn store;`)(modules);
  expect(typeof store.get).toBe("function");
  await new Promise((resolve) => (indexedDB.deleteDatabase("my-viewer").onsuccess = resolve));
});
