import { packageBuild } from "../../tsup.base";

export default packageBuild({
  platform: "neutral",
  // Keep the lazy `import("node:zlib")` as written (tsup would rewrite it to "zlib", which a browser
  // bundler may resolve to a slow polyfill instead of letting the package fall back to fflate).
  removeNodeProtocol: false,
  external: ["node:zlib"],
});
