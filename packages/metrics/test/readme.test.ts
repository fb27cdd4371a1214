// Runs the ts code blocks of the README and docs/metrics.md, and checks every
// `console.log(x); // → value` against what it printed.
import fs from "node:fs";
import * as core from "@zarrs-cache/core";
import * as memory from "@zarrs-cache/memory";
import * as promClient from "prom-client";
import { expect, it } from "vitest";
import * as metrics from "../src/index.js";

const modules: Record<string, unknown> = { "@zarrs-cache/core": core, "@zarrs-cache/memory": memory, "@zarrs-cache/metrics": metrics, "prom-client": promClient };
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;

for (const file of ["../README.md", "../../../docs/metrics.md"]) {
  it(`${file.replace(/^[./]+/, "")}: every ts block runs and prints what its comments say`, async () => {
    const text = fs.readFileSync(new URL(file, import.meta.url), "utf8");
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const source = block.replace(/^import \{([^}]*)\} from "([^"]+)";$/gm, (_, names: string, from: string) => {
        expect(modules[from], `a module the test provides: ${from}`).toBeDefined();
        return `const {${names}} = modules["${from}"];`;
      });
      const expected = [...source.matchAll(/console\.log\(.*\); \/\/ → (.*)$/gm)].map((m) => m[1]!.replace(/ \(.*\)$/, ""));
      const printed: string[] = [];
      const show = (value: unknown) => (typeof value === "string" && !value.startsWith("[") ? value : JSON.stringify(value));
      const log = (...values: unknown[]) => printed.push(values.map(show).join(" "));
      await new AsyncFunction("modules", "console", source)(modules, { log });
      expect(printed.slice(0, expected.length)).toEqual(expected);
    }
  });
}
