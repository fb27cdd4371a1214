// What a shell block promises that can be checked without running it: install lines name every
// package the same page imports, and `pnpm <script>` names a script of the root package.json.
const INSTALL = /^(?:npm (?:install|i|add)|pnpm (?:add|install|i)|yarn add)\s+(.+)$/;
const PNPM_BUILTINS = new Set([
  "install",
  "i",
  "add",
  "exec",
  "dlx",
  "approve-builds",
  "run",
  "test",
  "-r",
  "--filter",
  "why",
  "list",
  "rebuild",
]);

/** Package names an install line names (versions and flags dropped). */
export function installedBy(line) {
  const m = INSTALL.exec(line.trim());
  if (!m) return undefined;
  return m[1]
    .split(/\s+/)
    .filter((word) => !word.startsWith("-"))
    .map((word) => word.replace(/(?<=.)@[^/]*$/, ""));
}

/** `pnpm <script>` (or `npx -y pnpm@10 <script>`) commands in a block, for scripts that must exist. */
export function pnpmScripts(code) {
  const names = [];
  for (const line of code.split("\n")) {
    if (/--filter|^\s*cd\s/.test(line)) continue;
    for (const m of line.matchAll(/(?:^|&&|;|\s)(?:npx (?:-y )?)?pnpm(?:@\d+)?\s+(?:run\s+)?([a-z][\w:-]*)/g)) {
      if (!PNPM_BUILTINS.has(m[1])) names.push(m[1]);
    }
  }
  return names;
}
