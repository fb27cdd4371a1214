// Runs the README's first example in Chromium and checks what it prints against its `// → value` comment.
import * as core from "@zarrs-cache/core";
import * as indexeddb from "@zarrs-cache/indexeddb";
import * as memory from "@zarrs-cache/memory";
import { deleteDB } from "idb";
import { expect, it } from "vitest";
import readme from "../../README.md?raw";

const MODULES: Record<string, unknown> = { "@zarrs-cache/core": core, "@zarrs-cache/indexeddb": indexeddb, "@zarrs-cache/memory": memory };

it("the README's example runs in a browser and prints what its comment says", async () => {
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block, "a ts block in the README").toBeDefined();
  const source = block!.replace(/^import \{([^}]*)\} from "([^"]+)";$/gm, (_, names, from) => {
    expect(MODULES[from], `the README imports ${from}`).toBeDefined();
    return `const {${names}} = modules[${JSON.stringify(from)}];`;
  });
  const expected = [...source.matchAll(/console\.log\(.*\); \/\/ → (.*)$/gm)].map((m) => m[1]);
  const printed: string[] = [];
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  await new AsyncFunction("modules", "console", `${source}\nawait cache.close();`)(MODULES, { log: (v: unknown) => printed.push(JSON.stringify(v)) });
  expect(expected).toHaveLength(1);
  expect(printed).toEqual(expected);
  await deleteDB("my-viewer");
});
