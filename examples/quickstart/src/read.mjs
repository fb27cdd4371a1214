// Reads the dataset as an interactive viewer does: open each array, then fetch it one tile (one
// chunk, or one inner chunk of a shard) at a time, each read awaited before the next. Latency,
// not bandwidth, is what a remote costs such a reader, and what a cache takes away.
import * as zarr from "zarrita";
import { ARRAYS } from "./dataset.mjs";

function* tiles(shape, tile) {
  const counts = shape.map((s, i) => Math.ceil(s / tile[i]));
  const idx = counts.map(() => 0);
  const total = counts.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    yield idx.map((c, i) => zarr.slice(c * tile[i], Math.min((c + 1) * tile[i], shape[i])));
    for (let d = counts.length - 1; d >= 0; d--) {
      if (++idx[d] < counts[d]) break;
      idx[d] = 0;
    }
  }
}

/** Opens each array and reads it tile by tile; returns { name: Uint8Array[] } (the tiles' bytes). */
export async function readAll(store, arrays = ARRAYS) {
  const root = zarr.root(store);
  const out = {};
  for (const [name, spec] of Object.entries(arrays)) {
    const arr = await zarr.open(root.resolve(name), { kind: "array" });
    out[name] = [];
    for (const selection of tiles(spec.shape, spec.chunkShape)) {
      const { data } = await zarr.get(arr, selection);
      out[name].push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  return out;
}

/** True when two readAll results hold identical bytes. */
export function sameData(a, b) {
  for (const name of Object.keys(a)) {
    if (a[name].length !== b[name]?.length) return false;
    for (let i = 0; i < a[name].length; i++) {
      if (Buffer.compare(a[name][i], b[name][i]) !== 0) return false;
    }
  }
  return true;
}
