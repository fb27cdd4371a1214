import { chunkKey, classifyKey, parseChunkKey } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";

describe("the zarr key model", () => {
  it("classifies metadata, chunks and everything else", () => {
    for (const k of ["/zarr.json", "/a/zarr.json", "/a/.zarray", "/.zgroup", "/g/.zattrs", "/.zmetadata"])
      expect(classifyKey(k), k).toBe("metadata");
    for (const k of ["/a/c/0/1", "/a/c.0.1", "/a/c", "/a/0.1", "/a/0/1", "/a/3", "/g/sub/c/10/2/7"])
      expect(classifyKey(k), k).toBe("chunk");
    for (const k of ["/a/readme.txt", "/a/", "/a/c1", "/a/x.1"]) expect(classifyKey(k), k).toBe("other");
  });

  it("parses chunk keys into array path and coordinates, and builds them back", () => {
    expect(parseChunkKey("/g/temp/c/3/0/12")).toEqual({ arrayPath: "/g/temp", coords: [3, 0, 12], encoding: "v3", separator: "/" });
    expect(parseChunkKey("/temp/c.1.2")).toEqual({ arrayPath: "/temp", coords: [1, 2], encoding: "v3", separator: "." });
    expect(parseChunkKey("/scalar/c")).toEqual({ arrayPath: "/scalar", coords: [], encoding: "v3", separator: "/" });
    expect(parseChunkKey("/old/4.5")).toEqual({ arrayPath: "/old", coords: [4, 5], encoding: "v2", separator: "." });
    expect(parseChunkKey("/old/4/5")).toEqual({ arrayPath: "/old", coords: [4, 5], encoding: "v2", separator: "/" });
    expect(parseChunkKey("/a/zarr.json")).toBeUndefined();
    expect(chunkKey("/g/temp", [3, 0, 12])).toBe("/g/temp/c/3/0/12");
    expect(chunkKey("/temp", [1, 2], "v3", ".")).toBe("/temp/c.1.2");
    expect(chunkKey("/old", [4, 5], "v2", ".")).toBe("/old/4.5");
    expect(chunkKey("/old/", [4, 5], "v2", "/")).toBe("/old/4/5");
  });
});
