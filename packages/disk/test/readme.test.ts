// Runs the ts code blocks of the README's "Several processes on one machine" section and checks
// every `console.log(x); // → value` against what it printed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as core from "@zarrs-cache/core";
import * as memory from "@zarrs-cache/memory";
import { expect, it } from "vitest";
import * as disk from "../src/index.js";

const modules: Record<string, unknown> = {
  "node:fs": { default: fs },
  "node:os": { default: os },
  "node:path": { default: path },
  "@zarrs-cache/core": core,
  "@zarrs-cache/memory": memory,
  "@zarrs-cache/disk": disk,
};
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;

it("README, several processes: every ts block runs and prints what its comments say", async () => {
  const text = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = text.slice(text.indexOf("## Several processes on one machine"));
  const blocks = [...section.slice(0, section.indexOf("\n## ", 4)).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThan(0);
  for (const block of blocks) {
    const source = block
      .replace(/^import \{([^}]*)\} from "([^"]+)";$/gm, (_, names: string, from: string) => {
        expect(modules[from], `a module the test provides: ${from}`).toBeDefined();
        return `const {${names}} = modules["${from}"];`;
      })
      .replace(/^import (\w+) from "([^"]+)";$/gm, (_, name: string, from: string) => `const ${name} = modules["${from}"].default;`);
    const expected = [...source.matchAll(/console\.log\(.*\); \/\/ → (.*)$/gm)].map((m) => m[1]!);
    const printed: string[] = [];
    const log = (...values: unknown[]) => printed.push(values.map(String).join(" "));
    await new AsyncFunction("modules", "console", source)(modules, { log });
    expect(printed).toEqual(expected);
  }
});
