import { packageBuild } from "../../tsup.base";

export default packageBuild({
  platform: "neutral",
  // zarrita publishes only an `import` condition, so `require("zarrita")` fails on every Node version:
  // the CommonJS build inlines the one small, stateless helper it uses (`defineStoreExtension`);
  // the ESM build keeps importing zarrita.
  noExternal: ["zarrita"],
  esbuildOptions(options, { format }) {
    if (format === "esm") options.external = [...(options.external ?? []), "zarrita"];
  },
});
