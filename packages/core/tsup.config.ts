import { packageBuild } from "../../tsup.base";

export default packageBuild({
  entry: ["src/index.ts", "src/testing.ts", "src/test-utils.ts"],
  platform: "neutral",
});
