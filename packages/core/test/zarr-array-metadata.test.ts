import { checkArrayMetadata, parseArrayMetadata, ZarrArray, zarrArray, type ZarrsCacheErrorCode } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";

const v2 = (extra: Record<string, unknown> = {}) => ({
  zarr_format: 2,
  shape: [10, 7],
  chunks: [4, 3],
  dtype: "<f4",
  compressor: null,
  fill_value: 0,
  order: "C",
  filters: null,
  ...extra,
});

function v3(extra: Record<string, unknown> = {}) {
  return {
    zarr_format: 3,
    node_type: "array",
    shape: [10, 7],
    data_type: "float32",
    chunk_grid: { name: "regular", configuration: { chunk_shape: [4, 3] } },
    chunk_key_encoding: { name: "default", configuration: { separator: "/" } },
    codecs: [{ name: "bytes", configuration: { endian: "little" } }],
    fill_value: 0,
    attributes: {},
    ...extra,
  };
}

function sharded(config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return v3({
    chunk_grid: { name: "regular", configuration: { chunk_shape: [4, 6] } },
    codecs: [
      {
        name: "sharding_indexed",
        configuration: { chunk_shape: [2, 3], codecs: [{ name: "bytes" }], index_codecs: [{ name: "bytes" }], ...config },
      },
    ],
    ...extra,
  });
}

function expectError(fn: () => unknown, code: ZarrsCacheErrorCode, message: RegExp) {
  expect(fn).toThrow(expect.objectContaining({ name: "ZarrsCacheError", code, message: expect.stringMatching(message) }));
}

describe("parseArrayMetadata", () => {
  it("reads v2 .zarray: shape, chunks and dimension_separator ('.' when absent or null)", () => {
    const expected = { zarrFormat: 2, shape: [10, 7], chunkShape: [4, 3], chunkKeyEncoding: { name: "v2", separator: "." } };
    expect(parseArrayMetadata(v2())).toEqual(expected);
    expect(parseArrayMetadata(v2({ dimension_separator: null })).chunkKeyEncoding).toEqual({ name: "v2", separator: "." });
    expect(parseArrayMetadata(v2({ dimension_separator: "/" })).chunkKeyEncoding).toEqual({ name: "v2", separator: "/" });
    expect(parseArrayMetadata(v2({ order: "F" })).chunkShape).toEqual([4, 3]); // order does not change keys
  });

  it("reads v3 zarr.json: both key encodings, their default separators, codecs in short form", () => {
    const expected = { zarrFormat: 3, shape: [10, 7], chunkShape: [4, 3], chunkKeyEncoding: { name: "default", separator: "/" } };
    expect(parseArrayMetadata(v3())).toEqual(expected);
    const separator = (encoding: object) => parseArrayMetadata(v3({ chunk_key_encoding: encoding })).chunkKeyEncoding.separator;
    expect(parseArrayMetadata(v3({ chunk_key_encoding: { name: "default" } })).chunkKeyEncoding.separator).toBe("/");
    expect(separator({ name: "default", configuration: { separator: "." } })).toBe(".");
    expect(parseArrayMetadata(v3({ chunk_key_encoding: { name: "v2" } })).chunkKeyEncoding).toEqual({ name: "v2", separator: "." });
    expect(separator({ name: "v2", configuration: { separator: "/" } })).toBe("/");
    expect(parseArrayMetadata(v3({ codecs: ["bytes", { name: "gzip", configuration: { level: 1 } }] })).sharding).toBeUndefined();
  });

  it("accepts UTF-8 bytes, JSON text and parsed objects alike", () => {
    const text = JSON.stringify(v3({ attributes: { title: "température" } }));
    const expected = parseArrayMetadata(v3());
    expect(parseArrayMetadata(text)).toEqual(expected);
    expect(parseArrayMetadata(new TextEncoder().encode(text))).toEqual(expected);
  });

  it("reads the sharding layout: inner chunk shape, index location (end by default), index byte order and crc32c", () => {
    const defaults = { chunkShape: [2, 3], indexLocation: "end", indexEndian: "little", indexChecksum: false };
    expect(parseArrayMetadata(sharded()).sharding).toEqual(defaults);
    const bigEndian = { name: "bytes", configuration: { endian: "big" } };
    const full = sharded({ index_location: "start", index_codecs: [bigEndian, { name: "crc32c" }] });
    expect(parseArrayMetadata(full).sharding).toEqual({ ...defaults, indexLocation: "start", indexEndian: "big", indexChecksum: true });
    expect(parseArrayMetadata(full).chunkShape).toEqual([4, 6]);
    expect(parseArrayMetadata(sharded({ index_codecs: ["bytes", "crc32c"] })).sharding?.indexChecksum).toBe(true);
  });

  it("reads 0-d arrays", () => {
    expect(parseArrayMetadata(v2({ shape: [], chunks: [] })).shape).toEqual([]);
    const scalar = v3({ shape: [], chunk_grid: { name: "regular", configuration: { chunk_shape: [] } } });
    expect(parseArrayMetadata(scalar).chunkShape).toEqual([]);
  });

  const malformed: [string, unknown, RegExp][] = [
    ["not JSON", "{not json", /not valid JSON/],
    ["not an object", new TextEncoder().encode("[1, 2]"), /must be a JSON object, got \[1,2\]/],
    ["no zarr_format", { shape: [1] }, /"zarr_format" must be 2 or 3, got undefined/],
    ["a v2 group", { zarr_format: 2 }, /\.zarray: no "shape" \(a \.zgroup is not an array\)/],
    ["a v3 group", { zarr_format: 3, node_type: "group", attributes: {} }, /"node_type" is "group", not "array"/],
    ["a negative shape", v2({ shape: [10, -1] }), /"shape" must hold non-negative integers, got \[10,-1\]/],
    ["a fractional shape", v2({ shape: [10, 2.5] }), /"shape" must hold non-negative integers/],
    ["chunks of another rank", v2({ chunks: [4] }), /"chunks" has 1 dimensions, the array's shape has 2/],
    ["an empty chunk", v2({ chunks: [4, 0] }), /"chunks" must hold positive integers/],
    ["a bad v2 separator", v2({ dimension_separator: "-" }), /"dimension_separator" must be "\." or "\/", got "-"/],
    ["a chunk grid by name only", v3({ chunk_grid: "regular" }), /"chunk_grid" must be an object/],
    ["a grid without chunk_shape", v3({ chunk_grid: { name: "regular" } }), /chunk_grid\.configuration\.chunk_shape" must be an array/],
    ["no chunk_key_encoding", v3({ chunk_key_encoding: undefined }), /"chunk_key_encoding" must be an object/],
    [
      "a bad v3 separator",
      v3({ chunk_key_encoding: { name: "default", configuration: { separator: "_" } } }),
      /separator" must be "\/" or "\.", got "_"/,
    ],
    ["no codecs", v3({ codecs: null }), /"codecs" must be an array/],
    ["a codec without a name", v3({ codecs: [{ configuration: {} }] }), /"codecs\[0\]" must be a codec object with a "name"/],
    [
      "inner chunks that do not divide the shard",
      sharded({ chunk_shape: [3, 3] }),
      /inner "chunk_shape" \[3,3\] must divide the shard shape \[4,6\] \(dimension 0\)/,
    ],
    ["inner chunks of another rank", sharded({ chunk_shape: [2] }), /"chunk_shape" has 1 dimensions/],
    ["an unknown index location", sharded({ index_location: "middle" }), /"index_location" must be "start" or "end", got "middle"/],
    ["no index codecs", sharded({ index_codecs: undefined }), /"index_codecs" must be an array/],
    ["no inner codecs", sharded({ codecs: undefined }), /sharding_indexed: "codecs" must be an array/],
    [
      "an unknown index byte order",
      sharded({ index_codecs: [{ name: "bytes", configuration: { endian: "native" } }] }),
      /"endian" must be "little" or "big", got "native"/,
    ],
  ];
  for (const [what, input, message] of malformed) {
    it(`refuses ${what} with INVALID_ARGUMENT naming the field`, () => {
      expectError(() => parseArrayMetadata(input as never), "INVALID_ARGUMENT", message);
    });
  }

  it("names the array in its messages when given a path", () => {
    const message = /^\.zarray of array \/g\/temp: "chunks"/;
    expectError(() => parseArrayMetadata(v2({ chunks: [1] }), { path: "/g/temp" }), "INVALID_ARGUMENT", message);
    expectError(() => zarrArray(v3({ shape: "big" }), { path: "g/temp" }), "INVALID_ARGUMENT", /^zarr\.json of array \/g\/temp: "shape"/);
  });

  const withTranspose = sharded();
  withTranspose.codecs = [{ name: "transpose", configuration: { order: [1, 0] } } as never, ...withTranspose.codecs];
  const compressedShards = sharded();
  compressedShards.codecs = [...compressedShards.codecs, { name: "gzip", configuration: { level: 1 } } as never];
  const unsupported: [string, unknown, RegExp][] = [
    [
      "a rectilinear grid",
      v3({
        chunk_grid: {
          name: "rectilinear",
          configuration: {
            chunk_shapes: [
              [4, 6],
              [3, 4],
            ],
          },
        },
      }),
      /chunk grid "rectilinear" is not supported; only "regular"/,
    ],
    [
      "an unknown key encoding",
      v3({ chunk_key_encoding: { name: "fancy" } }),
      /chunk key encoding "fancy" is not supported \(known: "default", "v2"\)/,
    ],
    ["a compressed index", sharded({ index_codecs: [{ name: "bytes" }, { name: "gzip" }] }), /index codec "gzip" is not supported/],
    ["index codecs out of order", sharded({ index_codecs: ["crc32c", "bytes"] }), /must start with "bytes", got "crc32c"/],
    ["no index codec", sharded({ index_codecs: [] }), /must start with "bytes", got undefined/],
    ["two index checksums", sharded({ index_codecs: ["bytes", "crc32c", "crc32c"] }), /index codec "crc32c" is not supported/],
    ["a transpose before sharding", withTranspose, /codec "transpose" before "sharding_indexed"/],
    ["a codec after sharding", compressedShards, /codec "gzip" after "sharding_indexed" transforms whole shards/],
  ];
  for (const [what, input, message] of unsupported) {
    it(`refuses ${what} with UNSUPPORTED`, () => {
      expectError(() => parseArrayMetadata(input as never), "UNSUPPORTED", message);
    });
  }
});

describe("checkArrayMetadata and zarrArray's options", () => {
  it("round-trips normalised metadata (e.g. sent to a worker) and re-checks it", () => {
    const meta = parseArrayMetadata(sharded({ index_codecs: ["bytes", "crc32c"] }));
    const copy = JSON.parse(JSON.stringify(meta));
    expect(checkArrayMetadata(copy)).toEqual(meta);
    expect(zarrArray(copy, { path: "/a" }).metadata).toEqual(meta);
    const bad = (change: object) => () => zarrArray({ ...copy, ...change });
    expectError(bad({ chunkKeyEncoding: { name: "v2", separator: "-" } }), "INVALID_ARGUMENT", /"chunkKeyEncoding" must be/);
    const notDividing = /"sharding\.chunkShape" \[3,3\] must divide/;
    expectError(bad({ sharding: { ...copy.sharding, chunkShape: [3, 3] } }), "INVALID_ARGUMENT", notDividing);
    expectError(bad({ sharding: { ...copy.sharding, indexLocation: "middle" } }), "INVALID_ARGUMENT", /"sharding" needs indexLocation/);
    expectError(() => zarrArray({ ...copy, zarrFormat: 4 }), "INVALID_ARGUMENT", /"zarrFormat" must be 2 or 3/);
  });

  it("keeps its own frozen copy of the metadata, also when constructed directly", () => {
    const meta = JSON.parse(JSON.stringify(parseArrayMetadata(v2())));
    const model = new ZarrArray(meta, "g/x");
    expect(model.path).toBe("/g/x");
    meta.shape[0] = 1000;
    expect(model.metadata.shape).toEqual([10, 7]);
    expect(() => {
      (model.metadata.shape as number[])[0] = 1000;
    }).toThrow(TypeError);
    expect(model.keyGrid.shape).toEqual([3, 3]);
    expectError(() => new ZarrArray({ ...meta, chunkShape: [0, 1] }), "INVALID_ARGUMENT", /"chunkShape" must hold positive integers/);
  });

  it("normalises the path like zarrita's absolute paths", () => {
    for (const [given, expected] of [
      [undefined, "/"],
      ["", "/"],
      ["/", "/"],
      ["temp", "/temp"],
      ["/g/temp/", "/g/temp"],
    ] as const) {
      expect(zarrArray(v2(), given === undefined ? {} : { path: given }).path).toBe(expected);
    }
    const message = /option "path" "\/g\/\/temp" has an empty, "\." or "\.\." segment/;
    expectError(() => zarrArray(v2(), { path: "/g//temp" }), "INVALID_ARGUMENT", message);
    expectError(() => zarrArray(v2(), { path: "/g/../temp" }), "INVALID_ARGUMENT", /has an empty, "\." or "\.\." segment/);
    expectError(() => zarrArray(v2(), { path: 3 as unknown as string }), "INVALID_ARGUMENT", /option "path" must be a string, got 3/);
  });

  it("refuses unknown option names with a did-you-mean", () => {
    const message = /zarrArray: unknown option "Path" — did you mean "path"\?/;
    expectError(() => zarrArray(v2(), { Path: "/a" } as never), "INVALID_CONFIG", message);
    expectError(() => zarrArray(v2(), "/a" as never), "INVALID_ARGUMENT", /zarrArray: options must be an object/);
  });
});
