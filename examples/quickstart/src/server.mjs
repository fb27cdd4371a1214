// A static HTTP file server for zarr datasets on 127.0.0.1, with Range support (bytes=a-b and
// bytes=-n), injected latency, a request log and fault injection: the "remote" of the demo,
// the tests and the benchmarks.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

/**
 * @param {{ root: string, latencyMs?: number, fail?: (urlPath: string) => number | undefined }} options
 *   `fail` may return an HTTP status (e.g. 500) to answer instead of the file.
 */
export async function startServer({ root, latencyMs = 0, fail } = {}) {
  const base = path.resolve(root);
  const stats = { requests: 0, bytes: 0, notFound: 0, byPath: new Map() };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, "http://x").pathname);
    stats.requests++;
    stats.byPath.set(urlPath, (stats.byPath.get(urlPath) ?? 0) + 1);
    setTimeout(() => respond(urlPath, req, res), latencyMs);
  });
  const respond = (urlPath, req, res) => {
    const forced = fail?.(urlPath);
    if (forced) {
      res.writeHead(forced).end();
      return;
    }
    const file = path.join(base, urlPath);
    if (file !== base && !file.startsWith(base + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    let body;
    try {
      body = fs.readFileSync(file);
    } catch {
      stats.notFound++;
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    if (range) {
      let start;
      let end;
      if (range[1] === "") {
        start = Math.max(0, body.length - Number(range[2]));
        end = body.length - 1;
      } else {
        start = Number(range[1]);
        end = range[2] === "" ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      }
      if (start > end || start >= body.length) {
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      const part = body.subarray(start, end + 1);
      stats.bytes += part.length;
      res.writeHead(206, {
        "content-length": part.length,
        "content-range": `bytes ${start}-${end}/${body.length}`,
        "accept-ranges": "bytes",
      });
      res.end(req.method === "HEAD" ? undefined : part);
      return;
    }
    stats.bytes += body.length;
    res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes" });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    reset() {
      stats.requests = 0;
      stats.bytes = 0;
      stats.notFound = 0;
      stats.byPath.clear();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
