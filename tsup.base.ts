import { type Options, defineConfig } from "tsup";

/**
 * The build every package shares: ESM and CommonJS with their own type declarations and source
 * maps, ES2022, from src/index.ts unless `entry` says otherwise. `platform` is the one choice
 * each package makes: "neutral" for isomorphic packages (browsers too), "node" for Node-only ones.
 */
export function packageBuild(options: Options & { platform: "neutral" | "node" }) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "es2022",
    ...options,
  });
}
