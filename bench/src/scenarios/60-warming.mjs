// Warming (issue 10 acceptance), every ratio against a baseline measured in the same run over a
// 20 ms HTTP server: a sequential scan with predictive vs without, a viewer pan with neighbour vs
// without, random reads, demand reads during a 1,000-chunk warmRegion against a server that serves
// 6 requests at once, time-aware warming over four simulated days (a fake clock), and memory hits
// with the plugin installed vs without.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { FetchStore } from "@zarrita/storage";
import { createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { neighbor, predictive, timeAware, warming, warmRegion } from "@zarrs-cache/warming";
import { withCache } from "@zarrs-cache/zarrita";
import { writeDataset } from "quickstart/src/dataset.mjs";
import * as zarr from "zarrita";
import { compareOpsPerSec, median, row } from "../lib.mjs";

const MiB = 1024 * 1024;
const group = "warming (20 ms HTTP)";
const ARRAYS = {
  scan: { shape: [160, 320], chunkShape: [16, 16] }, // 10 × 20 = 200 chunks
  pan: { shape: [256, 256], chunkShape: [32, 32] }, // 8 × 8 tiles
  region: { shape: [320, 800], chunkShape: [16, 16] }, // 20 × 50 = 1,000 chunks
};

/** A static file server with latency that serves at most `maxActive` requests at once and counts them. */
async function startServer(root, { latencyMs, maxActive = Number.POSITIVE_INFINITY }) {
  const stats = { requests: 0, bytes: 0 };
  let active = 0;
  const waiting = [];
  const next = () => {
    while (active < maxActive && waiting.length > 0) {
      active++;
      const serve = waiting.shift();
      setTimeout(() => {
        serve();
        active--;
        next();
      }, latencyMs);
    }
  };
  const server = http.createServer((req, res) => {
    stats.requests++;
    waiting.push(() => {
      const file = path.join(root, decodeURIComponent(new URL(req.url, "http://x").pathname));
      let body;
      try {
        body = fs.readFileSync(file);
      } catch {
        res.writeHead(404).end();
        return;
      }
      stats.bytes += body.length;
      res.writeHead(200, { "content-length": body.length }).end(req.method === "HEAD" ? undefined : body);
    });
    next();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const sockets = new Set();
  server.on("connection", (s) => (sockets.add(s), s.on("close", () => sockets.delete(s))));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    reset: () => Object.assign(stats, { requests: 0, bytes: 0 }),
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(resolve))),
  };
}

function session(url, plugin, namespace) {
  let builder = createCache().tier(memory({ maxBytes: 256 * MiB }));
  if (plugin) builder = builder.use(plugin);
  const cache = builder.build();
  const store = withCache(new FetchStore(url), cache, { namespace });
  return { cache, store, open: (name) => zarr.open(zarr.root(store).resolve(name), { kind: "array" }) };
}

const chunkBox = (arr, [i, j]) => {
  const [ci, cj] = arr.chunks;
  return [zarr.slice(i * ci, (i + 1) * ci), zarr.slice(j * cj, (j + 1) * cj)];
};

const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

export default async function ({ tmp, log }) {
  const dataDir = path.join(tmp, "data");
  await writeDataset(dataDir, { arrays: ARRAYS });
  const server = await startServer(dataDir, { latencyMs: 20 });
  const rows = [];
  let round = 0;

  // ─── sequential scan, cold: predictive vs none ────────────────────────────────
  const scanOrder = Array.from({ length: 200 }, (_, i) => [Math.floor(i / 20), i % 20]);
  const scan = async (withPlugin) => {
    const plugin = withPlugin ? warming({ strategies: [predictive()] }) : undefined;
    const { cache, open } = session(server.url, plugin, `scan-${round++}`);
    const arr = await open("scan");
    server.reset();
    const t = performance.now();
    for (const chunk of scanOrder) await zarr.get(arr, chunkBox(arr, chunk));
    const ms = performance.now() - t;
    await plugin?.idle();
    const requests = server.stats.requests;
    const p = plugin?.stats().strategies.predictive;
    // The same scan again, every chunk in memory: the reader's own cost, a floor for any prefetching.
    const w = performance.now();
    for (const chunk of scanOrder) await zarr.get(arr, chunkBox(arr, chunk));
    const warmMs = performance.now() - w;
    await cache.close();
    return { ms, warmMs, requests, wasted: p ? (p.bytesLoaded - p.bytesUsed) / Math.max(1, p.bytesLoaded) : 0 };
  };
  const plainScan = [];
  const predictedScan = [];
  for (let r = 0; r < 2; r++) {
    plainScan.push(await scan(false));
    predictedScan.push(await scan(true));
  }
  const m = (xs, f) => median(xs.map(f));
  const floor = m([...plainScan, ...predictedScan], (x) => x.warmMs);
  log(
    `scan: without ${m(plainScan, (x) => x.ms).toFixed(0)} ms, with predictive ${m(predictedScan, (x) => x.ms).toFixed(0)} ms, all in memory ${floor.toFixed(0)} ms`,
  );
  rows.push(
    row({
      group,
      scenario: "sequential scan, cold: time with predictive",
      unit: "ms",
      value: m(predictedScan, (x) => x.ms),
      baseline: "no warming",
      baselineValue: m(plainScan, (x) => x.ms),
      target: "<= 0.333",
      notes: `the same scan with every chunk in memory: ${floor.toFixed(0)} ms`,
    }),
    row({
      group,
      scenario: "sequential scan: upstream requests with predictive",
      unit: "requests",
      value: m(predictedScan, (x) => x.requests),
      baseline: "no warming",
      baselineValue: m(plainScan, (x) => x.requests),
      target: "<= 1.05",
    }),
    row({
      group,
      scenario: "sequential scan: prefetched bytes never read",
      unit: "%",
      value: 100 * m(predictedScan, (x) => x.wasted),
      baseline: "prefetched bytes",
      baselineValue: 100,
      target: "<= 0.05",
    }),
  );

  // ─── viewer pan: neighbour vs none ─────────────────────────────────────────────
  // Across the 8 × 8 plane in a snake, 30 ms of rendering between tiles.
  const panOrder = Array.from({ length: 64 }, (_, i) => {
    const row_ = Math.floor(i / 8);
    return [row_, row_ % 2 === 0 ? i % 8 : 7 - (i % 8)];
  });
  const pan = async (withPlugin) => {
    const plugin = withPlugin ? warming({ strategies: [neighbor()] }) : undefined;
    const { cache, open } = session(server.url, plugin, `pan-${round++}`);
    const arr = await open("pan");
    const waits = [];
    for (const tile of panOrder.slice(0, 40)) {
      const t = performance.now();
      await zarr.get(arr, chunkBox(arr, tile));
      waits.push(performance.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await plugin?.idle();
    await cache.close();
    return median(waits);
  };
  const plainPan = [];
  const neighbourPan = [];
  for (let r = 0; r < 2; r++) {
    plainPan.push(await pan(false));
    neighbourPan.push(await pan(true));
  }
  log(`pan: median wait per tile without ${median(plainPan).toFixed(1)} ms, with neighbour ${median(neighbourPan).toFixed(1)} ms`);
  rows.push(
    row({
      group,
      scenario: "viewer pan: median wait per tile with neighbour",
      unit: "ms",
      value: median(neighbourPan),
      baseline: "no warming",
      baselineValue: median(plainPan),
      target: "<= 0.5",
    }),
  );

  // ─── random reads: predictive must stay out of the way ────────────────────────
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const randomOrder = Array.from({ length: 100 }, () => scanOrder[Math.floor(random() * scanOrder.length)]);
  const randomReads = async (withPlugin) => {
    const plugin = withPlugin ? warming({ strategies: [predictive()] }) : undefined;
    const { cache, open } = session(server.url, plugin, `random-${round++}`);
    const arr = await open("scan");
    const t = performance.now();
    for (const chunk of randomOrder) await zarr.get(arr, chunkBox(arr, chunk));
    const ms = performance.now() - t;
    const issued = plugin?.stats().strategies.predictive.issued ?? 0;
    await cache.close();
    return { ms, issued };
  };
  const plainRandom = [];
  const predictedRandom = [];
  for (let r = 0; r < 3; r++) {
    plainRandom.push(await randomReads(false));
    predictedRandom.push(await randomReads(true));
  }
  const issued = Math.max(...predictedRandom.map((x) => x.issued));
  log(
    `random: without ${m(plainRandom, (x) => x.ms).toFixed(0)} ms, with predictive ${m(predictedRandom, (x) => x.ms).toFixed(0)} ms, ${issued} prefetches`,
  );
  rows.push(
    row({
      group,
      scenario: "random reads: wall time with predictive",
      unit: "ms",
      value: m(predictedRandom, (x) => x.ms),
      baseline: "no warming",
      baselineValue: m(plainRandom, (x) => x.ms),
      target: "<= 1.05",
    }),
    row({
      group,
      scenario: "random reads: prefetches issued",
      unit: "prefetches",
      value: issued,
      baseline: "reads",
      baselineValue: randomOrder.length,
      target: "<= 0.05",
    }),
  );
  // ─── time-aware: three simulated days of a 09:00 job, then day four ───────────
  // A fake clock; each day is a fresh process (new cache) that imports yesterday's profile.
  const HOUR = 3_600_000;
  const day1 = Date.UTC(2026, 2, 2);
  let now = day1;
  const clock = { now: () => now };
  const morning = [zarr.slice(0, 48), null]; // 3 × 20 = 60 chunks of the scan array
  const startDay = (profile) => {
    const strategy = timeAware({ clock, timeZone: "utc" });
    if (profile) strategy.importProfile(profile);
    const plugin = warming({ strategies: [strategy], tickMs: 0 });
    return { strategy, plugin, ...session(server.url, plugin, "time-aware") };
  };
  let profile;
  let morningKeys = [];
  for (let day = 0; day < 3; day++) {
    const { strategy, cache, open } = startDay(profile);
    const seen = new Set();
    cache.events.on("miss", (e) => seen.add(e.key));
    now = day1 + day * 24 * HOUR + 9 * HOUR + 2 * 60_000;
    await zarr.get(await open("scan"), morning);
    morningKeys = [...seen].filter((key) => key.includes("/scan/c/"));
    profile = JSON.parse(JSON.stringify(strategy.exportProfile()));
    await cache.close();
  }
  const dayFour = startDay(profile);
  let quietIssued = 0;
  for (const hour of [0, 3, 12, 17, 23]) {
    now = day1 + 3 * 24 * HOUR + hour * HOUR + 50 * 60_000;
    await dayFour.plugin.tick();
    quietIssued = dayFour.plugin.stats().strategies.timeAware.issued;
  }
  now = day1 + 3 * 24 * HOUR + 8 * HOUR + 50 * 60_000; // 08:50, ahead of the 09:00 job
  await dayFour.plugin.tick();
  const warmShare = morningKeys.filter((key) => dayFour.cache.holds(key)).length / morningKeys.length;
  await dayFour.cache.close();
  log(
    `time-aware: ${(100 * warmShare).toFixed(0)} % of ${morningKeys.length} 09:00 keys warm by 08:50 on day four; ${quietIssued} prefetches at hours with no history`,
  );
  rows.push(
    row({
      group,
      scenario: "time-aware: 09:00 keys warm by 09:00 on day four (fake clock)",
      unit: "%",
      value: 100 * warmShare,
      baseline: "keys read at 09:00 on days 1-3",
      baselineValue: 100,
      target: ">= 0.9",
      notes: `${morningKeys.length} keys`,
    }),
    row({
      group,
      scenario: "time-aware: prefetches at hours with no history",
      unit: "prefetches",
      value: quietIssued,
      baseline: "09:00 keys",
      baselineValue: morningKeys.length,
      target: "<= 0",
    }),
  );

  await server.close();

  // ─── demand first: demand reads during a 1,000-chunk warmRegion, 6 requests at once ──
  const limited = await startServer(dataDir, { latencyMs: 20, maxActive: 6 });
  const demandOrder = Array.from({ length: 60 }, () => scanOrder[Math.floor(random() * scanOrder.length)]);
  const demandReads = async (duringRegion) => {
    const plugin = warming({ strategies: [] });
    const { cache, open } = session(limited.url, plugin, `demand-${round++}`);
    const [arr, big] = [await open("scan"), await open("region")];
    const region = duringRegion ? plugin.warmRegion(big, null) : undefined;
    await new Promise((resolve) => setTimeout(resolve, duringRegion ? 100 : 0));
    const waits = [];
    for (const chunk of demandOrder) {
      const t = performance.now();
      await zarr.get(arr, chunkBox(arr, chunk));
      waits.push(performance.now() - t);
    }
    const result = await region;
    await cache.close();
    return { p95: p95(waits), region: result };
  };
  const aloneRuns = [];
  const duringRuns = [];
  for (let r = 0; r < 5; r++) {
    aloneRuns.push(await demandReads(false));
    duringRuns.push(await demandReads(true));
  }
  const alone = { p95: median(aloneRuns.map((x) => x.p95)) };
  const during = { p95: median(duringRuns.map((x) => x.p95)), region: duringRuns[0].region };
  log(
    `demand p95 alone ${alone.p95.toFixed(1)} ms, during warmRegion ${during.p95.toFixed(1)} ms (region: ${during.region.loaded} chunks loaded)`,
  );
  rows.push(
    row({
      group,
      scenario: "demand p95 during a 1,000-chunk warmRegion (server: 6 at once)",
      unit: "ms",
      value: during.p95,
      baseline: "demand reads alone",
      baselineValue: alone.p95,
      target: "<= 1.25",
      notes: `median of 5 interleaved rounds; warmRegion default concurrency 4; ${during.region.loaded} chunks loaded`,
    }),
  );
  await limited.close();

  // ─── memory hits with the plugin installed vs without ─────────────────────────
  const local = new Map();
  for (const file of fs.readdirSync(path.join(dataDir, "scan"), { recursive: true })) {
    const full = path.join(dataDir, "scan", file);
    if (fs.statSync(full).isFile()) local.set(`/scan/${file.split(path.sep).join("/")}`, new Uint8Array(fs.readFileSync(full)));
  }
  const mapStore = { get: async (key) => local.get(key) };
  const hitStore = (plugin) => {
    let builder = createCache().tier(memory({ maxBytes: 256 * MiB }));
    if (plugin) builder = builder.use(plugin);
    const cache = builder.build();
    return { cache, store: withCache(mapStore, cache, { namespace: `hits-${round++}` }) };
  };
  const bare = hitStore(undefined);
  const plugged = hitStore(warming({ strategies: [neighbor(), predictive()] }));
  const chunkKeys = [...local.keys()].filter((k) => k.includes("/c/"));
  for (const { store } of [bare, plugged]) {
    await zarr.open(zarr.root(store).resolve("scan"), { kind: "array" });
    for (const key of chunkKeys) await store.get(key);
  }
  const rates = await compareOpsPerSec({
    without: (i) => bare.store.get(chunkKeys[i % chunkKeys.length]),
    with: (i) => plugged.store.get(chunkKeys[i % chunkKeys.length]),
  });
  await bare.cache.close();
  await plugged.cache.close();
  log(`memory hits: without ${Math.round(rates.without)}/s, with warming ${Math.round(rates.with)}/s`);
  rows.push(
    row({
      group,
      scenario: "memory hits/s with warming(neighbor, predictive) installed",
      unit: "ops/s",
      value: rates.with,
      baseline: "no plugin",
      baselineValue: rates.without,
      target: ">= 0.9",
    }),
  );
  return rows;
}
