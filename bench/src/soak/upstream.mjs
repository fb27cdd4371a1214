// The soak's upstream store: an HTTP server on 127.0.0.1 holding the current version of each
// object, with a few ms of latency, and a flaky mode (5xx, connection resets, slow answers).
//   GET /o/<id>                        the value
//   GET /o/<id>?offset=<o>&length=<n>  a byte range        GET /o/<id>?suffix=<n>  the last n bytes
//   PUT /o/<id>                        a new value; taken only if its version is newer (409 otherwise)
//   GET /version/<id>                  {"version": n} (never flaky: workers ask it when they start)
// Every accepted version is logged with the time it was applied, so the checker can tell a
// version that never existed from one that did.
import http from "node:http";
import { makeValue, versionOf } from "./values.mjs";

export async function startUpstream({ objectIds, now, random = Math.random, latencyMs = [3, 20] }) {
  const current = new Map();
  /** objectId → [{ version, at }] in the order applied. */
  const applied = new Map();
  const counters = { gets: 0, puts: 0, rejectedPuts: 0, injected503: 0, injectedResets: 0, injectedSlow: 0 };
  let flaky = false;
  const t0 = now();
  for (const id of objectIds) {
    current.set(id, { version: 1, bytes: makeValue(id, 1) });
    applied.set(id, [{ version: 1, at: t0 }]);
  }
  const sockets = new Set();
  const delay = () => new Promise((r) => setTimeout(r, latencyMs[0] + random() * (latencyMs[1] - latencyMs[0])));

  /** In a flaky window: what to do to this request ("ok", "503", "reset", "slow"). */
  const mischief = () => {
    if (!flaky) return "ok";
    const r = random();
    if (r < 0.12) return "503";
    if (r < 0.2) return "reset";
    if (r < 0.32) return "slow";
    return "ok";
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const [, what, idText] = url.pathname.split("/");
    const id = Number(idText);
    const entry = current.get(id);
    if (entry === undefined || !["o", "version"].includes(what)) {
      res.writeHead(404).end();
      return;
    }
    if (what === "version") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: entry.version }));
      return;
    }
    if (req.method === "PUT") return put(req, res, id);
    counters.gets++;
    const trick = mischief();
    await delay();
    if (trick === "slow") {
      counters.injectedSlow++;
      await new Promise((r) => setTimeout(r, 300 + random() * 1200));
    }
    if (trick === "503") {
      counters.injected503++;
      res.writeHead(503).end();
      return;
    }
    if (trick === "reset") {
      counters.injectedResets++;
      req.socket.destroy();
      return;
    }
    // The value as it is now, after the latency: a GET that arrives before a PUT may still answer
    // with the newer value, as a real store may.
    const bytes = current.get(id).bytes;
    let body = bytes;
    if (url.searchParams.has("suffix")) body = bytes.subarray(Math.max(0, bytes.byteLength - Number(url.searchParams.get("suffix"))));
    else if (url.searchParams.has("offset")) {
      const offset = Number(url.searchParams.get("offset"));
      body = bytes.subarray(offset, offset + Number(url.searchParams.get("length")));
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.byteLength }).end(body);
  });

  async function put(req, res, id) {
    counters.puts++;
    const trick = mischief();
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const bytes = new Uint8Array(Buffer.concat(chunks));
    if (trick === "503") {
      counters.injected503++;
      await delay();
      res.writeHead(503).end();
      return;
    }
    if (trick === "reset" && random() < 0.5) {
      // Lost before the store saw it.
      counters.injectedResets++;
      req.socket.destroy();
      return;
    }
    const version = versionOf(bytes);
    const entry = current.get(id);
    if (version === undefined || version <= entry.version) {
      counters.rejectedPuts++;
      res.writeHead(409).end();
      return;
    }
    // Applied the moment the body is in, before any latency: the worker's write is in the store
    // even if the worker is killed while waiting for the answer.
    current.set(id, { version, bytes });
    applied.get(id).push({ version, at: now() });
    if (trick === "reset") {
      // Applied, but the answer is lost: the writer cannot know its write happened.
      counters.injectedResets++;
      req.socket.destroy();
      return;
    }
    await delay();
    if (trick === "slow") {
      counters.injectedSlow++;
      await new Promise((r) => setTimeout(r, 300 + random() * 1200));
    }
    res.writeHead(204).end();
  }

  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counters,
    applied,
    setFlaky(on) {
      flaky = on;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
