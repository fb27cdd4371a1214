// Runs the tier that CONTRIBUTING.md builds from the tier kit through the whole conformance suite.
import fs from "node:fs";
import * as core from "@zarrs-cache/core";
import { describeTierConformance } from "@zarrs-cache/core/testing";

const text = fs.readFileSync(new URL("../../../CONTRIBUTING.md", import.meta.url), "utf8");
const block = /```ts\n([\s\S]*?)```/.exec(text.slice(text.indexOf("## Adding a tier")))?.[1];
if (block === undefined) throw new Error("CONTRIBUTING.md: no ts block under 'Adding a tier'");
const source = block.replace(/^import \{([^}]*)\} from "@zarrs-cache\/core";$/m, "const {$1} = core;");
const remoteMapTier = new Function("core", `${source}\nreturn remoteMapTier;`)(core) as () => core.CacheTier;

describeTierConformance("CONTRIBUTING.md's remote-map tier", { create: () => remoteMapTier(), exactSize: false });
