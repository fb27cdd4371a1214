import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
  platform: "neutral",
  // zarrita publishes only an `import` condition, so `require("zarrita")` fails on every Node version:
  // the CommonJS build inlines the one small, stateless helper it uses (`defineStoreExtension`);
  // the ESM build keeps importing zarrita.
  noExternal: ["zarrita"],
  esbuildOptions(options, { format }) {
    if (format === "esm") options.external = [...(options.external ?? []), "zarrita"];
  },
});
