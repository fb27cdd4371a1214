// Cancellation end to end: when every reader of a chunk gave up, its upstream HTTP request is
// closed; while one reader still waits, it runs on. A real HTTP server on 127.0.0.1 records when
// the client closes a request before its answer was sent.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { AbsolutePath, AsyncReadable, GetOptions, RangeQuery } from "@zarrita/storage";
import { FetchStore } from "@zarrita/storage";
import { type TieredCache, createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as zarr from "zarrita";
import { makeDataset, sleep } from "./fixtures.js";

interface Logged {
  path: string;
  method: string;
  arrivedAt: number;
  /** When the client closed the request before the answer was sent. */
  closedAt?: number;
  answered: boolean;
}

/** Serves `root` with byte ranges after `latencyMs`, logging every request and early closes. */
async function recordingServer(root: string) {
  const log: Logged[] = [];
  const state = { latencyMs: 0 };
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url!, "http://x").pathname);
    const entry: Logged = { path: urlPath, method: req.method!, arrivedAt: performance.now(), answered: false };
    log.push(entry);
    const timer = setTimeout(() => answer(entry, req, res), state.latencyMs);
    res.on("close", () => {
      if (res.writableFinished) return;
      entry.closedAt = performance.now();
      clearTimeout(timer);
    });
  });
  const answer = (entry: Logged, req: http.IncomingMessage, res: http.ServerResponse) => {
    let body: Buffer;
    try {
      body = fs.readFileSync(path.join(root, entry.path));
    } catch {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    let part = body;
    const headers: http.OutgoingHttpHeaders = { "accept-ranges": "bytes" };
    if (range) {
      const start = range[1] === "" ? Math.max(0, body.length - Number(range[2])) : Number(range[1]);
      const end = range[1] === "" || range[2] === "" ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      part = body.subarray(start, end + 1);
      headers["content-range"] = `bytes ${start}-${end}/${body.length}`;
    }
    headers["content-length"] = part.length;
    entry.answered = true;
    res.writeHead(range ? 206 : 200, headers).end(req.method === "HEAD" ? undefined : part);
  };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    state,
    requestsFor: (p: string) => log.filter((e) => e.path === p && e.method === "GET"),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** Waits until `condition` holds (polling), or fails after `ms`. */
async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(1);
  }
}

/** Wraps a store so the options of every get/getRange reaching it are recorded. */
function recordingStore(inner: AsyncReadable) {
  const calls: { key: string; signal: AbortSignal | undefined }[] = [];
  const store: AsyncReadable = {
    get(key: AbsolutePath, opts?: GetOptions) {
      calls.push({ key, signal: opts?.signal });
      return inner.get(key, opts);
    },
    getRange(key: AbsolutePath, range: RangeQuery, opts?: GetOptions) {
      calls.push({ key, signal: opts?.signal });
      return inner.getRange!(key, range, opts);
    },
  };
  return { store, calls };
}

let dir: string;
let server: Awaited<ReturnType<typeof recordingServer>>;
let caches: TieredCache[] = [];
const newCache = () => {
  const cache = createCache()
    .tier(memory({ maxBytes: 64 * 1024 * 1024 }))
    .build();
  caches.push(cache);
  return cache;
};

beforeAll(async () => {
  dir = await makeDataset();
  server = await recordingServer(dir);
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cache of caches) await cache.close();
  caches = [];
  server.state.latencyMs = 0;
});

describe("an abort through withCache reaches the upstream request", () => {
  it("closes the request within 50 ms when its lone caller aborts; the next read loads again", async () => {
    server.state.latencyMs = 2_000;
    const store = withCache(new FetchStore(server.url), newCache());
    // The machine is shared: a single measurement may hit a scheduling hiccup, the median of five does not.
    const closedAfterMs: number[] = [];
    for (const chunk of ["/pressure/c/0/1", "/pressure/c/0/2", "/pressure/c/0/3", "/pressure/c/1/1", "/pressure/c/1/2"] as const) {
      const controller = new AbortController();
      const reading = store.get(chunk, { signal: controller.signal });
      await until(() => server.requestsFor(chunk).length === 1);
      const abortedAt = performance.now();
      controller.abort(new Error("user panned away"));
      await expect(reading).rejects.toThrow("user panned away");
      await until(() => server.requestsFor(chunk)[0]!.closedAt !== undefined, 1_500);
      closedAfterMs.push(server.requestsFor(chunk)[0]!.closedAt! - abortedAt);
      expect(server.requestsFor(chunk)[0]!.answered).toBe(false);
    }
    const median = [...closedAfterMs].sort((a, b) => a - b)[2]!;
    expect(median, `closed after ${closedAfterMs.map((ms) => ms.toFixed(1)).join(", ")} ms`).toBeLessThan(50);

    server.state.latencyMs = 0;
    const chunk = "/pressure/c/0/1";
    const value = await store.get(chunk);
    expect(value?.byteLength).toBe(32 * 32 * 4);
    expect(server.requestsFor(chunk)).toHaveLength(2);
    expect(server.requestsFor(chunk)[1]!.answered).toBe(true);
  });

  it("keeps the request running while another caller still waits; that caller gets the bytes", async () => {
    server.state.latencyMs = 150;
    const store = withCache(new FetchStore(server.url), newCache());
    const chunk = "/pressure/c/1/0";
    const controller = new AbortController();
    const leaving = store.get(chunk, { signal: controller.signal });
    const staying = store.get(chunk, { signal: new AbortController().signal });
    await until(() => server.requestsFor(chunk).length === 1);
    controller.abort(new Error("one of two gave up"));
    await expect(leaving).rejects.toThrow("one of two gave up");
    expect((await staying)?.byteLength).toBe(32 * 32 * 4);
    const [request] = server.requestsFor(chunk);
    expect(request!.closedAt).toBeUndefined();
    expect(request!.answered).toBe(true);
    await store.get(chunk); // cached: no second request
    expect(server.requestsFor(chunk)).toHaveLength(1);
  });
});

// zarrita's own signal tests, adapted to a cache: the inner store receives *a* signal (the load's,
// not the caller's own object) and it fires when the caller aborts.
describe("zarr.get with { signal } through withCache", () => {
  const open = async (name: string) => {
    const recorded = recordingStore(new FetchStore(server.url));
    const store = withCache(recorded.store, newCache(), { namespace: `cancel-${name}-${Math.random()}` });
    const arr = await zarr.open.v3(zarr.root(store).resolve(name), { kind: "array" });
    recorded.calls.length = 0; // only the reads of zarr.get below
    return { arr, calls: recorded.calls };
  };

  for (const [label, name] of [
    ["a plain array", "pressure"],
    ["a sharded array", "wind"],
  ] as const) {
    it(`passes a signal to the inner store for ${label}`, async () => {
      const { arr, calls } = await open(name);
      const controller = new AbortController();
      await zarr.get(arr, null, { signal: controller.signal });
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) {
        expect(call.signal, call.key).toBeInstanceOf(AbortSignal);
        expect(call.signal).not.toBe(controller.signal);
        expect(call.signal!.aborted).toBe(false);
      }
    });

    it(`fires the inner store's signal when the caller aborts, for ${label}`, async () => {
      const { arr, calls } = await open(name);
      server.state.latencyMs = 2_000;
      const controller = new AbortController();
      const reading = zarr.get(arr, null, { signal: controller.signal });
      await until(() => calls.length > 0);
      controller.abort(new Error("aborted by the viewer"));
      await expect(reading).rejects.toThrow(/abort/i);
      await until(() => calls.every((c) => c.signal?.aborted === true), 1_000);
      expect(calls.every((c) => c.signal instanceof AbortSignal)).toBe(true);
    });
  }

  it("rejects a zarr.get whose signal already fired", async () => {
    const { arr } = await open("pressure");
    const controller = new AbortController();
    controller.abort(new Error("aborted"));
    await expect(zarr.get(arr, null, { signal: controller.signal })).rejects.toThrow(/abort/i);
  });
});
