// The viewer's HTTP server on 127.0.0.1: the built page at /, and the dataset at /data/, forwarded
// to the quickstart's server (Range support and injected latency live there, and its request log
// is the count of upstream requests). `cors: true` lets pages of another origin read /data/
// (the browser tests). Responses say `no-store`, so the browser's HTTP cache never hides a request.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { startServer } from "quickstart/src/server.mjs";

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".map": "application/json", ".css": "text/css" };
const FORWARDED = ["content-length", "content-range", "accept-ranges"];

/**
 * @param {{ dataDir: string, latencyMs?: number, staticDir?: string, cors?: boolean, port?: number }} options
 */
export async function startViewerServer({ dataDir, latencyMs = 20, staticDir, cors = false, port = 0 }) {
  const upstream = await startServer({ root: dataDir, latencyMs });
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (cors) {
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("access-control-allow-headers", "range");
      res.setHeader("access-control-expose-headers", FORWARDED.join(", "));
    }
    if (req.method === "OPTIONS") return res.writeHead(204).end();
    if (url.pathname.startsWith("/data/")) return forward(upstream.url + url.pathname.slice("/data".length), req, res);
    if (staticDir) return serveStatic(staticDir, url.pathname, res);
    res.writeHead(404).end();
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: base,
    dataUrl: `${base}/data`,
    /** The quickstart server behind /data/: `upstream.stats.requests` counts what reached it. */
    upstream,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
      await upstream.close();
    },
  };
}

function forward(target, req, res) {
  const headers = req.headers.range ? { range: req.headers.range } : {};
  const outgoing = http.request(target, { method: req.method, headers }, (answer) => {
    const copied = Object.fromEntries(FORWARDED.filter((h) => answer.headers[h] !== undefined).map((h) => [h, answer.headers[h]]));
    res.writeHead(answer.statusCode ?? 502, { ...copied, "cache-control": "no-store" });
    answer.pipe(res);
  });
  outgoing.on("error", () => res.writeHead(502).end());
  outgoing.end();
}

function serveStatic(dir, pathname, res) {
  const root = path.resolve(dir);
  const file = path.join(root, pathname === "/" ? "index.html" : decodeURIComponent(pathname));
  if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    return res.writeHead(404).end();
  }
  res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
  res.end(fs.readFileSync(file));
}
