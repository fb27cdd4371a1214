// Reads every array of the dataset through a zarrita store, as a user would.
import * as zarr from "zarrita";
import { ARRAYS } from "./dataset.mjs";

/** Opens and reads each array whole; returns { name: Float32Array }. */
export async function readAll(store, names = Object.keys(ARRAYS)) {
  const root = zarr.root(store);
  const out = {};
  for (const name of names) {
    const arr = await zarr.open(root.resolve(name), { kind: "array" });
    const chunk = await zarr.get(arr);
    out[name] = chunk.data;
  }
  return out;
}

/** True when two readAll results are identical byte for byte. */
export function sameData(a, b) {
  for (const name of Object.keys(a)) {
    const x = new Uint8Array(a[name].buffer, a[name].byteOffset, a[name].byteLength);
    const y = new Uint8Array(b[name].buffer, b[name].byteOffset, b[name].byteLength);
    if (x.length !== y.length || Buffer.compare(x, y) !== 0) return false;
  }
  return true;
}
