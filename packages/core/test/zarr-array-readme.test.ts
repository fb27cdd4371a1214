// Runs the README's array-model example and checks every `console.log(x); // → value` against `value`.
import fs from "node:fs";
import * as core from "@zarrs-cache/core";
import { expect, it } from "vitest";

const README = new URL("../README.md", import.meta.url);
const HEADING = "## The zarr array model (metadata → grid)";

it("the README's array model example runs and prints what its comments say", async () => {
  const text = fs.readFileSync(README, "utf8");
  const section = text.slice(text.indexOf(HEADING));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(block, "a ts block in the array model section").toBeDefined();
  const source = block!.replace(/^import \{([^}]*)\} from "@zarrs-cache\/core";$/m, "const {$1} = core;");
  const expected = [...source.matchAll(/console\.log\(.*\); \/\/ → (.*)$/gm)].map((m) => m[1]!.replace(/ \(.*\)$/, ""));
  const printed: string[] = [];
  const log = (value: unknown) => printed.push(value === undefined ? "undefined" : JSON.stringify(value));
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  await new AsyncFunction("core", "console", source)(core, { log });
  expect(expected.length).toBeGreaterThan(5);
  expect(printed).toEqual(expected);
});
