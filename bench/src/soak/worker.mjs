// One soak process: a cache of memory + disk (a directory shared with the other processes of its
// node) + Redis (through its node's proxy), reading and changing objects in a few concurrent loops,
// logging every operation to a JSONL history. Forked by run.mjs with the config in ZC_SOAK_WORKER.
import fs from "node:fs";
import { createCache } from "@zarrs-cache/core";
import { disk } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { redis } from "@zarrs-cache/redis";
import { withCache } from "@zarrs-cache/zarrita";
import { catalogue, DATASETS, ownerSlot } from "./objects.mjs";
import { makeValue, objectSize, verify } from "./values.mjs";

const config = JSON.parse(process.env.ZC_SOAK_WORKER);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const objects = catalogue(config.objects);
const owned = objects.filter((o) => ownerSlot(o.id, config.slots) === config.slot);

// ─── history ─────────────────────────────────────────────────────────────────
// Buffered and appended every 200 ms: a SIGKILL loses at most the last few records, and a lost
// record only takes a constraint away from the checker (it never invents one).
let buffered = [];
const flushHistory = () => {
  if (buffered.length === 0) return;
  fs.appendFileSync(config.history, buffered.join("\n") + "\n");
  buffered = [];
};
const record = (entry) => buffered.push(JSON.stringify(entry));
setInterval(flushHistory, 200).unref();

// ─── upstream ────────────────────────────────────────────────────────────────
async function upstream(path, init) {
  const response = await fetch(`${config.upstream}${path}`, { ...init, signal: AbortSignal.timeout(config.upstreamTimeoutMs) });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`upstream ${init?.method ?? "GET"} ${path}: HTTP ${response.status}`);
  return init?.method === "PUT" ? true : new Uint8Array(await response.arrayBuffer());
}
const put = (id, value) => upstream(`/o/${id}`, { method: "PUT", body: value });

/** A zarrita-style store over the upstream for one dataset: get, getRange and set of paths. */
function datasetStore(dataset) {
  const idOf = new Map(objects.filter((o) => o.dataset === dataset).map((o) => [o.path, o.id]));
  const resource = (path) => {
    const id = idOf.get(path);
    if (id === undefined) throw new Error(`no object at ${dataset}${path}`);
    return `/o/${id}`;
  };
  return {
    get: (path) => upstream(resource(path)),
    getRange: (path, range) =>
      upstream(
        "suffixLength" in range
          ? `${resource(path)}?suffix=${range.suffixLength}`
          : `${resource(path)}?offset=${range.offset}&length=${range.length}`,
      ),
    set: async (path, value) => {
      await put(idOf.get(path), value);
    },
  };
}

// ─── the cache ───────────────────────────────────────────────────────────────
const redisTier = redis({
  url: config.redisUrl,
  keyPrefix: config.keyPrefix,
  commandTimeout: 250,
  connectTimeout: 500,
  singleFlight: { lockTtl: 1000 },
});
const cache = createCache()
  .tier(memory({ maxBytes: config.memoryBytes }))
  .tier(disk({ dir: config.diskDir, maxBytes: config.diskBytes }))
  .tier(redisTier)
  .build();
const stores = Object.fromEntries(
  Object.entries(DATASETS).map(([name, namespace]) => [name, withCache(datasetStore(name), cache, { namespace })]),
);
const events = { errors: 0, byTier: {} };
cache.events.on("error", ({ tier, operation }) => {
  events.errors++;
  events.byTier[tier ?? "-"] = (events.byTier[tier ?? "-"] ?? 0) + 1;
  // Timed, so the checker can tell a change whose Redis update failed (timeouts happen without an
  // injected fault on a loaded machine).
  if (tier === "redis") record({ o: "x", t: now(), op: operation });
});

// ─── operations ──────────────────────────────────────────────────────────────
const nextVersion = new Map();
const writing = new Set();

async function read(object, sweep = false) {
  const size = objectSize(object.id);
  let offset = 0;
  let length = size;
  let via;
  let pending;
  const s = now();
  if (object.layer === "direct") {
    via = "getOrLoad";
    pending = cache.getOrLoad(object.key, () => upstream(`/o/${object.id}`), { kind: "chunk" });
  } else {
    const store = stores[object.dataset];
    const r = sweep ? 0 : Math.random();
    if (r < 0.6) {
      via = "get";
      pending = store.get(object.path);
    } else if (r < 0.9) {
      via = "getRange";
      length = 32 + Math.floor(Math.random() * 1024);
      offset = Math.floor(Math.random() * (size - length));
      pending = store.getRange(object.path, { offset, length });
    } else {
      via = "suffix";
      length = 64;
      offset = size - length;
      pending = store.getRange(object.path, { suffixLength: length });
    }
  }
  try {
    const bytes = await pending;
    const e = now();
    const checked = verify(object.id, bytes, offset, length);
    record({ o: "r", id: object.id, via, s, e, v: checked.version, bad: checked.bad, why: checked.detail, sw: sweep || undefined });
  } catch (error) {
    record({ o: "r", id: object.id, via, s, e: now(), err: String(error?.message ?? error).slice(0, 160), sw: sweep || undefined });
  }
}

async function change(object) {
  writing.add(object.id);
  const version = nextVersion.get(object.id);
  nextVersion.set(object.id, version + 1);
  const value = makeValue(object.id, version);
  let via;
  const s = now();
  try {
    if (object.layer === "zarr") {
      via = "set";
      await stores[object.dataset].set(object.path, value);
    } else if (Math.random() < 0.5) {
      via = "write";
      await cache.write(object.key, value, () => put(object.id, value), { kind: "chunk" });
    } else {
      // The store changed behind the cache, then the cache is told.
      via = "invalidate";
      await put(object.id, value);
      await cache.invalidate(object.key);
    }
    record({ o: "w", id: object.id, via, v: version, s, e: now(), ok: true });
  } catch (error) {
    record({ o: "w", id: object.id, via, v: version, s, e: now(), ok: false, err: String(error?.message ?? error).slice(0, 160) });
  } finally {
    writing.delete(object.id);
  }
}

/** Reads favour a few hot objects (u² skew), so loads and changes of one object overlap. */
function pick(list) {
  const u = Math.random();
  return list[Math.floor(u * u * list.length)];
}

let running = true;
async function loop() {
  while (running) {
    if (owned.length > 0 && Math.random() < config.changeShare) {
      const object = pick(owned);
      await (writing.has(object.id) ? read(object) : change(object));
    } else {
      await read(pick(objects));
    }
    await sleep(Math.random() * 2 * config.pauseMs);
  }
}

// ─── lifecycle ───────────────────────────────────────────────────────────────
for (const object of owned) {
  const body = await upstream(`/version/${object.id}`);
  nextVersion.set(object.id, JSON.parse(Buffer.from(body).toString()).version + 1);
}
const deadline = Date.now() + 3000;
while (!redisTier.busSubscribed && Date.now() < deadline) await sleep(10);
record({ o: "start", t: now(), subscribed: redisTier.busSubscribed });
flushHistory();

let loops = [];
process.on("message", async (message) => {
  if (message?.sync !== undefined) process.send({ sync: message.sync, t: now() });
  else if (message === "go") loops = Array.from({ length: config.loops }, loop);
  else if (message === "sweep") {
    // The end state: loops stop, then every object is read once by every process.
    running = false;
    await Promise.allSettled(loops);
    for (const object of objects) await read(object, true);
    flushHistory();
    process.send({ swept: true });
  } else if (message === "stop") {
    running = false;
    await Promise.allSettled(loops);
    flushHistory();
    const stats = { cache: cache.stats(), levels: cache.levelStats().map((l) => ({ name: l.name, hits: l.hits, tier: l.tier })), events };
    await cache.close().catch(() => undefined);
    process.send({ stats }, () => process.exit(0));
  }
});
process.send({ ready: true, subscribed: redisTier.busSubscribed });
