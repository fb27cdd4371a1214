// Finds the fenced code blocks of a markdown file: language, info string, code and line number.
import fs from "node:fs";

/** @returns {{ file: string, line: number, lang: string, info: string[], code: string }[]} */
export function extractBlocks(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [lang = "", ...info] = open[2].trim().split(/\s+/);
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith(open[1])) end++;
    blocks.push({ file, line: start, lang, info, code: lines.slice(start, end).join("\n") });
    i = end;
  }
  return blocks;
}

/** The package names a block imports (`import … from "x"`, bare specifiers only). */
export function importedPackages(code) {
  const names = new Set();
  for (const m of code.matchAll(/^\s*import\s[^;]*?from\s+"([^".][^"]*)"/gm)) {
    const parts = m[1].split("/");
    names.add(m[1].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]);
  }
  return names;
}
