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

/** The bindings of an import statement: [local name, the statement that binds only that name]. */
function bindings(line) {
  // A type-only import binds nothing at run time.
  const m = /^import\s+(?!type\s)(.*?)\s+from\s+("[^"]+")/.exec(line);
  if (!m) return [];
  const [, clause, from] = m;
  const out = [];
  const named = /\{([^}]*)\}/.exec(clause)?.[1];
  for (const part of named?.split(",") ?? []) {
    const spec = part.trim();
    if (spec === "" || spec.startsWith("type ")) continue;
    const local = spec.split(/\s+as\s+/).pop();
    out.push([local, `import { ${spec} } from ${from};`]);
  }
  const rest = clause
    .replace(/\{[^}]*\}/, "")
    .replace(/,/g, " ")
    .trim();
  const star = /\*\s+as\s+(\w+)/.exec(rest);
  if (star) out.push([star[1], `import * as ${star[1]} from ${from};`]);
  else if (rest !== "") out.push([rest, `import ${rest} from ${from};`]);
  return out;
}

/** The code without string literals and comments: what is left names the identifiers it uses. */
function codeOnly(code) {
  return code.replace(/\/\/.*$/gm, "").replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

const uses = (code, name) => new RegExp(`(?<![.\\w$])${name.replace(/\$/g, "\\$")}\\b`).test(code);

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
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    reportDiagnostics: false,
  }).outputText;
  const code = codeOnly(block.code);
  const own = new Set(importLines(block.code).flatMap((line) => bindings(line).map(([name]) => name)));
  const borrowed = new Map(); // name → its import, the latest block above that imported it wins
  for (const line of inherited) {
    for (const [name, statement] of bindings(line)) {
      if (!own.has(name) && !declares(block.code, name) && uses(code, name)) borrowed.set(name, statement);
    }
  }
  // A free name, not a property or a word in a string (`console.log` does not use `log`).
  const used = AMBIENT_NAMES.filter((name) => uses(code, name) && !declares(block.code, name) && !own.has(name) && !borrowed.has(name));
  const prelude = [...borrowed.values()];
  prelude.unshift(`import * as __docs from ${JSON.stringify(AMBIENT)};`, "__docs.install();");
  if (used.length > 0) prelude.push(`const { ${used.join(", ")} } = __docs.ambient;`);
  fs.mkdirSync(dir, { recursive: true });
  // A `ts vitest` block is a test file: the runner hands it to vitest.
  const file = path.join(dir, block.info.includes("vitest") ? `${id}.test.mjs` : `${id}.mjs`);
  fs.writeFileSync(file, `${prelude.join("\n")}\n${js}`);
  return { file, url: pathToFileURL(file).href, annotations };
}
