// The viewer page: one 2-D plane of a zarr v3 array drawn tile by tile (a tile is a chunk, or an
// inner chunk of a shard) on a canvas, read through memory + IndexedDB. The panel shows upstream
// requests, hit rate per tier, bytes held and where each tile came from. `window.viewer` lets a
// test (or a console user) pan and read the numbers.
import { CacheKeys, createCache } from "@zarrs-cache/core";
import { indexedDb } from "@zarrs-cache/indexeddb";
import { memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import * as zarr from "zarrita";

type Source = "memory" | "indexeddb" | "upstream";
const RANK: Record<Source, number> = { memory: 0, indexeddb: 1, upstream: 2 };
const MiB = 1024 * 1024;
const NAMESPACE = "zarrs-cache-viewer/v1";

const params = new URLSearchParams(location.search);
const arrayName = params.get("array") ?? "wind";
const viewTiles = Number(params.get("view") ?? 3); // the viewport is view × view tiles
const concurrency = Math.max(1, Number(params.get("concurrency") ?? 4)); // upstream requests in flight
// `?idb=0` leaves the IndexedDB tier out (memory only): the benchmark's baseline without persistence.
const withIndexedDb = params.get("idb") !== "0";
const scale = 2; // screen pixels per array element (the canvas has one pixel per element; CSS scales it)

// Upstream: the dataset on this page's server, every request counted, at most `concurrency` in
// flight. The limit sits on the network, where it matters: cache hits are not held back by it.
const fetchStore = new zarr.FetchStore(new URL("data", location.href).href);
const upstream = { requests: 0 };
let inFlight = 0;
const waiting: (() => void)[] = [];
async function limited<T>(request: () => Promise<T>): Promise<T> {
  if (inFlight < concurrency) inFlight++;
  else await new Promise<void>((go) => waiting.push(go)); // a finishing request hands its slot over
  try {
    upstream.requests++;
    return await request();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  }
}
const counted = {
  url: fetchStore.url,
  get: (key: zarr.AbsolutePath, opts?: RequestInit) => limited(() => fetchStore.get(key, opts)),
  getRange: (key: zarr.AbsolutePath, range: Parameters<zarr.FetchStore["getRange"]>[1], opts?: RequestInit) =>
    limited(() => fetchStore.getRange(key, range, opts)),
};

const l1 = memory({ maxBytes: 64 * MiB });
const l2 = withIndexedDb ? indexedDb({ name: "zarrs-cache-viewer", maxBytes: 512 * MiB }) : undefined;
const cache = (l2 ? createCache().tier(l1).tier(l2) : createCache().tier(l1)).build();
const cached = withCache(counted, cache, { namespace: NAMESPACE });

// Where each cache key was last answered from: a hit names its tier, a load is upstream.
const sourceOfKey = new Map<string, Source>();
cache.events.on("hit", (e) => sourceOfKey.set(e.key, e.tier as Source));
cache.events.on("load", (e) => sourceOfKey.set(e.key, "upstream"));

// Each tile read carries its own options object, so the store calls it makes can be told apart.
const keysOfRead = new WeakMap<object, string[]>();
// The zarrita adapter's keys: core's key encoding under the adapter's namespace.
const storeKeys = new CacheKeys(NAMESPACE);
const cacheKey = (path: string, range?: { offset: number; length: number } | { suffixLength: number }) =>
  range === undefined ? storeKeys.whole(path) : storeKeys.range(path, range);
const tracked = {
  get: (key: zarr.AbsolutePath, opts?: object) => {
    if (opts) keysOfRead.get(opts)?.push(cacheKey(key));
    return cached.get(key, opts as RequestInit);
  },
  getRange: (key: zarr.AbsolutePath, range: Parameters<zarr.FetchStore["getRange"]>[1], opts?: object) => {
    if (opts) keysOfRead.get(opts)?.push(cacheKey(key, range));
    return cached.getRange!(key, range, opts as RequestInit);
  },
};

interface TileRecord {
  tile: [number, number];
  source: Source | "unknown";
  /** From asking for the tile to drawn; `readMs` of it reading and decoding, `drawMs` drawing (in the next frame). */
  ms: number;
  readMs: number;
  drawMs: number;
}

const canvas = document.querySelector("canvas")!;
const context = canvas.getContext("2d")!;
const panel = document.querySelector("#panel")!;
const state = {
  ready: false,
  origin: [0, 0] as [number, number],
  grid: [0, 0] as [number, number],
  tileShape: [0, 0] as [number, number],
  lastView: { ms: 0, readMs: 0, tiles: [] as TileRecord[] },
  /** The first view's read: from asking for its tiles to the last tile's data read and decoded. */
  firstViewReadMs: 0,
  /** The first view shown: from asking for its tiles to the last tile drawn. */
  firstViewMs: 0,
  /** Opening the array (reading its zarr.json), before the first view. */
  openMs: 0,
  error: undefined as string | undefined,
};

const opened = performance.now();
const arr = await zarr.open.v3(zarr.root(tracked as zarr.Readable).resolve(arrayName), { kind: "array" });
const openMs = performance.now() - opened;
const rank = arr.shape.length;
state.tileShape = [arr.chunks[rank - 2]!, arr.chunks[rank - 1]!];
state.grid = [Math.ceil(arr.shape[rank - 2]! / state.tileShape[0]), Math.ceil(arr.shape[rank - 1]! / state.tileShape[1])];
canvas.width = Math.min(viewTiles, state.grid[1]) * state.tileShape[1];
canvas.height = Math.min(viewTiles, state.grid[0]) * state.tileShape[0];
// The browser scales the canvas up (pixelated), so drawing writes each element once: drawing
// runs on the main thread between the answers of the view's reads.
canvas.style.width = `${canvas.width * scale}px`;
canvas.style.height = `${canvas.height * scale}px`;

/** Reads and decodes one tile; resolves with its data in hand, to `drawn`: the tile once drawn. */
async function loadTile(row: number, col: number): Promise<{ drawn: Promise<TileRecord> }> {
  const started = performance.now();
  const options = {};
  keysOfRead.set(options, []);
  // Leading dimensions (time, level) at 0; the tile is the chunk at (row, col) of the last two.
  const coords = [...new Array(rank - 2).fill(0), row, col];
  const chunk = await arr.getChunk(coords, options as { signal?: AbortSignal });
  const read = performance.now();
  const sources = keysOfRead.get(options)!.map((key) => sourceOfKey.get(key));
  const source = sources.includes(undefined)
    ? "unknown"
    : sources.reduce<Source>((worst, s) => (RANK[s!] > RANK[worst] ? s! : worst), "memory");
  const drawn = drawInNextFrame(chunk.data as Float32Array, row, col).then(
    (drawMs): TileRecord => ({ tile: [row, col], source, ms: performance.now() - started, readMs: read - started, drawMs }),
  );
  return { drawn };
}

/**
 * Tiles read since the last frame, drawn together in the next one: drawing never holds up the
 * main thread while other tiles' reads are answering, and the screen updates once per frame.
 */
let toDraw: { data: Float32Array; row: number; col: number; drawn: (ms: number) => void }[] = [];
function drawInNextFrame(data: Float32Array, row: number, col: number): Promise<number> {
  return new Promise((drawn) => {
    if (toDraw.length === 0) requestAnimationFrame(drawPending);
    toDraw.push({ data, row, col, drawn });
  });
}
function drawPending(): void {
  const batch = toDraw;
  toDraw = [];
  for (const tile of batch) {
    const started = performance.now();
    draw(tile.data, tile.row, tile.col);
    tile.drawn(performance.now() - started);
  }
}

/** Blue (low) to red (high) over 5…25, the quickstart field's range, in 256 steps. */
const PALETTE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  const v = i / 255;
  const [r, g, b] = [255 * v, 255 * (1 - Math.abs(2 * v - 1)) * 0.8, 255 * (1 - v)].map(Math.round) as [number, number, number];
  // ImageData is RGBA in memory: little-endian words read ABGR.
  PALETTE[i] = (255 << 24) | (b << 16) | (g << 8) | r;
}

/** One pass over the tile's values, one pixel each. */
function draw(data: Float32Array, row: number, col: number): void {
  const [th, tw] = state.tileShape;
  const image = context.createImageData(tw, th);
  const pixels = new Uint32Array(image.data.buffer);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const step = (data[y * tw + x]! - 5) * 12.75;
      const color = PALETTE[step <= 0 ? 0 : step >= 255 ? 255 : step | 0]!;
      pixels[y * tw + x] = color;
    }
  }
  const [oy, ox] = state.origin;
  context.putImageData(image, (col - ox) * tw, (row - oy) * th);
  context.strokeStyle = "rgba(0,0,0,0.25)";
  context.strokeRect((col - ox) * tw + 0.5, (row - oy) * th + 0.5, tw - 1, th - 1);
}

/** Shows the view × view tiles from tile (row, col); resolves when every one is drawn. */
async function panTo(row: number, col: number): Promise<{ ms: number; readMs: number; tiles: TileRecord[] }> {
  const rows = Math.min(viewTiles, state.grid[0]);
  const cols = Math.min(viewTiles, state.grid[1]);
  state.origin = [Math.max(0, Math.min(row, state.grid[0] - rows)), Math.max(0, Math.min(col, state.grid[1] - cols))];
  const queue: [number, number][] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) queue.push([state.origin[0] + r, state.origin[1] + c]);
  const started = performance.now();
  // Every tile of the view is asked for at once, as tile viewers do: hits answer together (one
  // IndexedDB transaction), and upstream reads queue behind the store's limit.
  const read = await Promise.all(queue.map(([r, c]) => loadTile(r, c)));
  const drawing = read.map((tile) => tile.drawn);
  // The view's read ends when its last tile's data is in hand; drawing follows in frames.
  const readMs = performance.now() - started;
  const tiles = await Promise.all(drawing);
  state.lastView = { ms: performance.now() - started, readMs, tiles };
  render();
  return state.lastView;
}

function render(): void {
  const bySource = { memory: 0, indexeddb: 0, upstream: 0, unknown: 0 };
  for (const t of state.lastView.tiles) bySource[t.source]++;
  const rows = cache.levelStats().map((level) => {
    const bytes = level.tier.bytes === undefined ? "?" : `${(level.tier.bytes / MiB).toFixed(2)} MiB`;
    return `<tr><td>${level.name}</td><td>${level.hits}</td><td>${(level.hitRate * 100).toFixed(1)}%</td><td>${bytes}</td></tr>`;
  });
  panel.innerHTML = `
    <p><b>${arrayName}</b> ${arr.shape.join("×")}, tiles ${state.tileShape.join("×")}, view at tile (${state.origin.join(", ")})</p>
    <p>upstream requests: <b id="upstream">${upstream.requests}</b></p>
    <p>last view: read ${state.lastView.readMs.toFixed(1)} ms, shown ${state.lastView.ms.toFixed(1)} ms; tiles from memory ${bySource.memory},
      IndexedDB ${bySource.indexeddb}, upstream ${bySource.upstream}</p>
    <table><tr><th>tier</th><th>hits</th><th>hit rate</th><th>bytes held</th></tr>${rows.join("")}</table>`;
}

let dragFrom: [number, number] | undefined;
canvas.addEventListener("pointerdown", (e) => (dragFrom = [e.clientY, e.clientX]));
canvas.addEventListener("pointerup", (e) => {
  if (!dragFrom) return;
  const [th, tw] = state.tileShape;
  const dr = Math.round((dragFrom[0] - e.clientY) / (th * scale));
  const dc = Math.round((dragFrom[1] - e.clientX) / (tw * scale));
  dragFrom = undefined;
  if (dr !== 0 || dc !== 0) void panTo(state.origin[0] + dr, state.origin[1] + dc);
});
for (const [id, dr, dc] of [
  ["up", -1, 0],
  ["down", 1, 0],
  ["left", 0, -1],
  ["right", 0, 1],
] as const) {
  document.querySelector(`#${id}`)!.addEventListener("click", () => void panTo(state.origin[0] + dr, state.origin[1] + dc));
}
setInterval(render, 500);

Object.assign(window, {
  viewer: {
    state,
    upstream,
    panTo,
    /** Waits for fills in flight, so what was read is in IndexedDB before a reload. */
    flush: () => cache.flush(),
    levels: () =>
      cache.levelStats().map((l) => ({ name: l.name, hits: l.hits, hitRate: l.hitRate, bytes: l.tier.bytes, entries: l.tier.entries })),
    clear: () => cache.clear(),
    /** Empties the memory tier only: the next view reads IndexedDB (or upstream with `?idb=0`). */
    dropMemory: () => l1.clear(),
  },
});
const firstView = await panTo(0, 0);
state.firstViewReadMs = firstView.readMs;
state.firstViewMs = firstView.ms;
state.openMs = openMs;
state.ready = true;
