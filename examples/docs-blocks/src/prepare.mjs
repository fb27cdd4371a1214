// Turns a documented ts/js block into a runnable ES module: TypeScript stripped, the ambient
// names it uses (and does not declare) bound, and each `console.log(x); // → value` checked.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { AMBIENT_NAMES } from "./ambient.mjs";

const AMBIENT = new URL("./ambient.mjs", import.meta.url).href;
const ANNOTATED = /^(\s*)console\.log\((.*)\);\s*\/\/ → (.*)$/;

/** The value a `// → value (why)` comment promises, without the explanation in parentheses. */
const promised = (text) => text.replace(/ \([^()]*\)$/, "").trim();

function declares(code, name) {
  const word = `\\b${name}\\b`;
  return (
    new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b`).test(code) ||
    new RegExp(`^\\s*import\\s[^;]*${word}[^;]*\\sfrom\\s`, "m").test(code) ||
    new RegExp(`\\b(?:const|let|var)\\s*[{[][^=]*${word}[^=]*[}\\]]\\s*=`).test(code)
  );
}

const IMPORT_LINE = /^import\s.*\sfrom\s+"[^"]+";?\s*$/;

/** The single-line import statements of a block (a later block on the page may lean on them). */
export function importLines(code) {
  return code.split("\n").filter((line) => IMPORT_LINE.test(line));
}

/** The names an import statement binds. */
function boundNames(line) {
  const clause = /^import\s+(?:type\s+)?(.*?)\s+from\s/.exec(line)?.[1] ?? "";
  return clause
    .replace(/[{}]/g, ",")
    .split(",")
    .map((part) => part.trim().replace(/^type\s+/, "").replace(/^\*\s+as\s+/, "").split(/\s+as\s+/).pop())
    .filter(Boolean);
}

/**
 * @param inherited import lines of the blocks above this one on the same page: a block that
 *   continues the page's example may use what they imported (as a reader would).
 * @returns {{ file: string, url: string, annotations: number }} the module written into `dir`.
 */
export function prepareBlock(block, dir, id, inherited = []) {
  let annotations = 0;
  const lines = block.code.split("\n").map((text, i) => {
    const m = ANNOTATED.exec(text);
    if (!m) return text;
    const call = `${m[1]}__docs.expectLogged(${annotations++}, ${block.line + i + 1}, ${JSON.stringify(promised(m[3]))}, ${m[2]});`;
    return call;
  });
  const source = lines.join("\n");
  // A free name, not a property (`console.log` does not use `log`).
  const used = AMBIENT_NAMES.filter((name) => new RegExp(`(?<![.\\w$])${name}\\b`).test(block.code) && !declares(block.code, name));
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    reportDiagnostics: false,
  }).outputText;
  const own = new Set(importLines(block.code).flatMap(boundNames));
  const borrowed = new Map();
  for (const line of inherited) {
    const names = boundNames(line);
    if (names.some((name) => own.has(name) || declares(block.code, name))) continue;
    if (names.some((name) => new RegExp(`\\b${name}\\b`).test(block.code))) for (const name of names) borrowed.set(name, line);
  }
  const prelude = [...new Set(borrowed.values())].map((line) => ts.transpileModule(line, { compilerOptions: { module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true } }).outputText.trim());
  prelude.unshift(`import * as __docs from ${JSON.stringify(AMBIENT)};`, "__docs.install();");
  if (used.length > 0) prelude.push(`const { ${used.join(", ")} } = __docs.ambient;`);
  fs.mkdirSync(dir, { recursive: true });
  // A `ts vitest` block is a test file: the runner hands it to vitest.
  const file = path.join(dir, block.info.includes("vitest") ? `${id}.test.mjs` : `${id}.mjs`);
  fs.writeFileSync(file, `${prelude.join("\n")}\n${js}`);
  return { file, url: pathToFileURL(file).href, annotations };
}
