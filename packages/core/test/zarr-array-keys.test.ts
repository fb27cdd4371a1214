import { ArrayLocator, type ChunkKeyEncoding, decodeChunkKey, encodeChunkKey, zarrArray } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";

function v3(path: string, shape: number[], chunks: number[], encoding: { name: string; configuration?: object } = { name: "default" }) {
  const meta = {
    zarr_format: 3,
    node_type: "array",
    shape,
    data_type: "uint8",
    chunk_grid: { name: "regular", configuration: { chunk_shape: chunks } },
    chunk_key_encoding: encoding,
    codecs: [{ name: "bytes" }],
    fill_value: 0,
  };
  return zarrArray(meta, { path });
}

function v2(path: string, shape: number[], chunks: number[], separator?: "." | "/") {
  const zarray = { zarr_format: 2, shape, chunks, dtype: "|u1", compressor: null, fill_value: 0, order: "C", filters: null };
  return zarrArray({ ...zarray, dimension_separator: separator }, { path });
}

describe("chunk keys ⇄ grid coordinates in the array's own encoding", () => {
  const encodings: [ChunkKeyEncoding, string, string][] = [
    [{ name: "default", separator: "/" }, "c/3/0/12", "c"],
    [{ name: "default", separator: "." }, "c.3.0.12", "c"],
    [{ name: "v2", separator: "." }, "3.0.12", "0"],
    [{ name: "v2", separator: "/" }, "3/0/12", "0"],
  ];
  for (const [encoding, key, scalarKey] of encodings) {
    it(`${encoding.name} with "${encoding.separator}": ${key}, and ${scalarKey} for 0-d`, () => {
      expect(encodeChunkKey(encoding, [3, 0, 12])).toBe(key);
      expect(decodeChunkKey(encoding, 3, key)).toEqual([3, 0, 12]);
      expect(encodeChunkKey(encoding, [])).toBe(scalarKey);
      expect(decodeChunkKey(encoding, 0, scalarKey)).toEqual([]);
      expect(encodeChunkKey(encoding, [7])).toBe(encoding.name === "default" ? `c${encoding.separator}7` : "7");
      // Wrong rank, leading zeros, signs, empty parts, the other separator: not keys zarrita writes.
      const other = encoding.separator === "/" ? "." : "/";
      const notKeys = [
        key.replace("12", "012"),
        key.replace("3", "-3"),
        key.replace("0", ""),
        key.split(encoding.separator).join(other),
        `${key}${encoding.separator}1`,
        "zarr.json",
        "",
      ];
      for (const bad of notKeys) {
        expect(decodeChunkKey(encoding, 3, bad), bad).toBeUndefined();
      }
      expect(decodeChunkKey(encoding, 2, key)).toBeUndefined();
      expect(decodeChunkKey(encoding, 0, `${scalarKey}x`)).toBeUndefined();
    });
  }
  it("refuses numbers beyond 2^53 and non-digit characters", () => {
    const enc: ChunkKeyEncoding = { name: "v2", separator: "." };
    expect(decodeChunkKey(enc, 1, "99999999999999999")).toBeUndefined();
    expect(decodeChunkKey(enc, 1, "1e3")).toBeUndefined();
    expect(decodeChunkKey(enc, 1, " 1")).toBeUndefined();
  });
});

describe("ZarrArray keys", () => {
  it("builds absolute store paths like zarrita, for nested and root arrays", () => {
    expect(v3("/g/temp", [10, 7], [4, 3]).key([2, 1])).toBe("/g/temp/c/2/1");
    expect(v3("/", [10, 7], [4, 3]).key([2, 1])).toBe("/c/2/1");
    expect(v2("", [10, 7], [4, 3]).key([2, 1])).toBe("/2.1");
    expect(v2("/old", [10, 7], [4, 3], "/").key([2, 1])).toBe("/old/2/1");
    expect(v3("/s", [], [], { name: "default", configuration: { separator: "." } }).key([])).toBe("/s/c");
  });

  it("parses only keys on its own grid: edge chunks yes, past the edge no", () => {
    const a = v3("/g/temp", [10, 7], [4, 3]);
    expect(a.parseKey("/g/temp/c/2/2")).toEqual([2, 2]); // the partial corner chunk
    const offGrid = ["/g/temp/c/3/0", "/g/temp/c/0/3", "/g/temp/c/1", "/g/temp/zarr.json"];
    for (const off of [...offGrid, "/g/temp2/c/0/0", "/g/c/0/0", "g/temp/c/0/0", "/g/temp/c.0.0"]) {
      expect(a.parseKey(off), off).toBeUndefined();
    }
    expect(a.parseRelativeKey("c/1/1")).toEqual([1, 1]);
    const root = v2("/", [10], [5]);
    expect(root.parseKey("/1")).toEqual([1]);
    expect(root.parseKey("/2")).toBeUndefined();
    expect(root.parseKey("/.zarray")).toBeUndefined();
    expect(() => a.key([3, 0])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("ArrayLocator", () => {
  const temp = v3("/g/temp", [10, 7], [4, 3]);
  const old = v2("/g/old", [30, 50], [8, 16], "/");
  const root = v2("/", [4], [2]);
  const locator = new ArrayLocator([temp, old]);

  it("places a chunk key on its array's grid", () => {
    expect(locator.locate("/g/temp/c/2/1")).toEqual({ array: temp, coords: [2, 1] });
    expect(locator.locate("/g/old/3/2")).toEqual({ array: old, coords: [3, 2] });
    expect(locator.size).toBe(2);
    expect([...locator]).toEqual([temp, old]);
  });

  it("returns undefined for keys not on any grid", () => {
    const elsewhere = ["/g/zarr.json", "/elsewhere/c/0/0", "relative/c/0", "", "/"];
    for (const path of ["/g/temp/c/3/0", "/g/temp/zarr.json", "/g/old/.zarray", "/g/old/4/0", ...elsewhere]) {
      expect(locator.locate(path), path).toBeUndefined();
    }
  });

  it("names the array a path lies under, metadata included", () => {
    expect(locator.owner("/g/temp/zarr.json")).toBe(temp);
    expect(locator.owner("/g/old/3/2")).toBe(old);
    expect(locator.owner("/g/zarr.json")).toBeUndefined();
  });

  it("finds the deepest array first; a root array owns everything else", () => {
    const withRoot = new ArrayLocator([root, temp]);
    expect(withRoot.locate("/1")).toEqual({ array: root, coords: [1] });
    expect(withRoot.locate("/g/temp/c/0/0")?.array).toBe(temp);
    expect(withRoot.owner("/g/other/x")).toBe(root);
    expect(withRoot.locate("/g/temp/c/9/9")).toBeUndefined(); // temp's folder, but off its grid
  });

  it("replaces an array whose metadata changed, and forgets deleted ones", () => {
    const l = new ArrayLocator([temp]);
    const grown = v3("/g/temp", [20, 7], [4, 3]);
    l.add(grown);
    expect(l.size).toBe(1);
    expect(l.get("/g/temp")).toBe(grown);
    expect(l.locate("/g/temp/c/4/0")?.coords).toEqual([4, 0]);
    expect(l.delete("/g/temp")).toBe(true);
    expect(l.locate("/g/temp/c/0/0")).toBeUndefined();
    expect(() => l.add({ path: "/x" } as never)).toThrow(/expected a ZarrArray \(from zarrArray\(\)\)/);
  });
});
