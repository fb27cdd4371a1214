import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
  platform: "neutral",
  // Keep the lazy `import("node:zlib")` as written (tsup would rewrite it to "zlib", which a browser
  // bundler may resolve to a slow polyfill instead of letting the package fall back to fflate).
  removeNodeProtocol: false,
  external: ["node:zlib"],
});
