// `pnpm viewer`: writes the quickstart's dataset, builds the page and serves both on 127.0.0.1
// with the quickstart's 20 ms latency per upstream request. Open the printed URL, pan, reload:
// after the reload the tiles come from IndexedDB and the upstream counter stays at 0.
//
//   node src/serve.mjs [--port 8080] [--latency 20] [--data-dir DIR]
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeDataset } from "quickstart/src/dataset.mjs";
import { buildViewer } from "./build.mjs";
import { startViewerServer } from "./server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const port = Number(option("--port", 8080));
const latencyMs = Number(option("--latency", 20));
const dataDir = path.resolve(option("--data-dir", path.join(here, "..", "data")));

await writeDataset(dataDir);
const staticDir = await buildViewer();
const server = await startViewerServer({ dataDir, latencyMs, staticDir, port });
console.log(`viewer at ${server.url}/  (arrays: ?array=wind (sharded), temperature, pressure; ${latencyMs} ms upstream latency)`);
console.log("Ctrl-C to stop");
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
