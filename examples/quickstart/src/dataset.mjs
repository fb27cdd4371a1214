// Writes the demo dataset: a zarr v3 group of float32 arrays, one of them sharded. zarrita writes
// the plain arrays; it cannot write shards, so the sharded array is assembled here by hand
// following the v3 sharding_indexed layout (inner chunks, then an index of (offset, nbytes)
// uint64 pairs at the end). Everything is deterministic, so two runs write identical bytes.
import fs from "node:fs";
import path from "node:path";
import { FileSystemStore } from "@zarrita/storage";
import * as zarr from "zarrita";

/** A smooth field plus noise, like a real geophysical variable. */
export function field(shape, seed = 1) {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  let x = seed >>> 0 || 1;
  const last = shape[shape.length - 1];
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const col = i % last;
    const row = Math.floor(i / last);
    data[i] = 15 + 10 * Math.sin(col / 37 + seed) * Math.cos(row / 53) + (x / 2 ** 32 - 0.5);
  }
  return data;
}

export const ARRAYS = {
  temperature: { shape: [64, 256, 256], chunkShape: [8, 64, 64] },
  pressure: { shape: [1024, 1024], chunkShape: [256, 256] },
  wind: { shape: [64, 256, 256], shardShape: [16, 128, 128], chunkShape: [4, 64, 64] },
};

/** Writes the dataset into `dir` (a folder that will be served as the zarr root). */
export async function writeDataset(dir, { arrays = ARRAYS } = {}) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const store = new FileSystemStore(dir);
  const root = zarr.root(store);
  await zarr.create(root, { attributes: { title: "zarrs-cache quickstart", generator: "examples/quickstart" } });
  let seed = 1;
  for (const [name, spec] of Object.entries(arrays)) {
    const data = field(spec.shape, seed++);
    if (spec.shardShape) {
      writeShardedArray(path.join(dir, name), { ...spec, data });
      continue;
    }
    const arr = await zarr.create(root.resolve(name), { shape: spec.shape, chunkShape: spec.chunkShape, dtype: "float32", fillValue: 0 });
    await zarr.set(arr, null, { data, shape: spec.shape, stride: stridesOf(spec.shape) });
  }
  return Object.keys(arrays);
}

export function stridesOf(shape) {
  const stride = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) stride[i] = stride[i + 1] * shape[i + 1];
  return stride;
}

/** Copies the box [start, start+size) of a C-ordered array into a new Float32Array. */
function extract(data, shape, start, size) {
  const out = new Float32Array(size.reduce((a, b) => a * b, 1));
  const stride = stridesOf(shape);
  const inner = size[size.length - 1];
  const rows = out.length / inner;
  const idx = new Array(size.length - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let offset = start[start.length - 1];
    for (let d = 0; d < idx.length; d++) offset += (start[d] + idx[d]) * stride[d];
    out.set(data.subarray(offset, offset + inner), r * inner);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function* gridOf(counts) {
  const idx = new Array(counts.length).fill(0);
  const total = counts.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    yield [...idx];
    for (let d = counts.length - 1; d >= 0; d--) {
      if (++idx[d] < counts[d]) break;
      idx[d] = 0;
    }
  }
}

/** A v3 float32 array with sharding_indexed (bytes codec inside, index at the end, no checksum). */
export function writeShardedArray(dir, { shape, shardShape, chunkShape, data }) {
  fs.mkdirSync(dir, { recursive: true });
  const meta = {
    zarr_format: 3,
    node_type: "array",
    shape,
    data_type: "float32",
    chunk_grid: { name: "regular", configuration: { chunk_shape: shardShape } },
    chunk_key_encoding: { name: "default", configuration: { separator: "/" } },
    fill_value: 0,
    codecs: [
      {
        name: "sharding_indexed",
        configuration: {
          chunk_shape: chunkShape,
          codecs: [{ name: "bytes", configuration: { endian: "little" } }],
          index_codecs: [{ name: "bytes", configuration: { endian: "little" } }],
          index_location: "end",
        },
      },
    ],
    attributes: {},
  };
  fs.writeFileSync(path.join(dir, "zarr.json"), JSON.stringify(meta, null, 2));
  const shardCounts = shape.map((s, i) => Math.ceil(s / shardShape[i]));
  const innerCounts = shardShape.map((s, i) => s / chunkShape[i]);
  for (const shard of gridOf(shardCounts)) {
    const parts = [];
    const index = new BigUint64Array(innerCounts.reduce((a, b) => a * b, 1) * 2);
    let offset = 0;
    let n = 0;
    for (const inner of gridOf(innerCounts)) {
      const start = inner.map((c, i) => shard[i] * shardShape[i] + c * chunkShape[i]);
      const bytes = new Uint8Array(extract(data, shape, start, chunkShape).buffer);
      index[n * 2] = BigInt(offset);
      index[n * 2 + 1] = BigInt(bytes.length);
      parts.push(bytes);
      offset += bytes.length;
      n++;
    }
    parts.push(new Uint8Array(index.buffer));
    const file = path.join(dir, "c", ...shard.map(String));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.concat(parts));
  }
}

/** A zarr v2 float32 array written by hand ("." chunk keys, no compressor). */
export function writeV2Array(dir, { shape, chunkShape, data, separator = "." }) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, ".zarray"),
    JSON.stringify({
      zarr_format: 2,
      shape,
      chunks: chunkShape,
      dtype: "<f4",
      compressor: null,
      fill_value: 0,
      order: "C",
      filters: null,
      dimension_separator: separator,
    }),
  );
  fs.writeFileSync(path.join(dir, ".zattrs"), JSON.stringify({ written_by: "hand" }));
  const counts = shape.map((s, i) => Math.ceil(s / chunkShape[i]));
  for (const chunk of gridOf(counts)) {
    // Edge chunks are stored full-size in v2: pad with the fill value.
    const out = new Float32Array(chunkShape.reduce((a, b) => a * b, 1));
    const start = chunk.map((c, i) => c * chunkShape[i]);
    const size = chunkShape.map((c, i) => Math.min(c, shape[i] - start[i]));
    const part = extract(data, shape, start, size);
    const inner = size[size.length - 1];
    const rowStride = chunkShape[chunkShape.length - 1];
    for (let r = 0; r < part.length / inner; r++) {
      // Map the r-th row of the partial box to its row in the full chunk.
      let rowIndex = 0;
      let rem = r;
      for (let d = size.length - 2; d >= 0; d--) {
        const coord = rem % size[d];
        rem = Math.floor(rem / size[d]);
        let mul = 1;
        for (let e = d + 1; e < chunkShape.length - 1; e++) mul *= chunkShape[e];
        rowIndex += coord * mul;
      }
      out.set(part.subarray(r * inner, (r + 1) * inner), rowIndex * rowStride);
    }
    const file = path.join(dir, chunk.join(separator));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, new Uint8Array(out.buffer));
  }
}
