import {
  crc32c,
  decodeShardIndex,
  isZarrsCacheError,
  type ShardingLayout,
  shardIndexByteLength,
  shardIndexRange,
  zarrArray,
} from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";

const EMPTY = 2n ** 64n - 1n;

function layout(overrides: Partial<ShardingLayout> = {}): ShardingLayout {
  return { chunkShape: [2, 2], indexLocation: "end", indexEndian: "little", indexChecksum: false, ...overrides };
}

/** Index bytes written independently of the decoder: (offset, length) uint64 pairs, then a crc32c. */
function indexBytes(entries: [bigint, bigint][], endian: "little" | "big", checksum: boolean): Uint8Array {
  const bytes = new Uint8Array(16 * entries.length + (checksum ? 4 : 0));
  const view = new DataView(bytes.buffer);
  entries.forEach(([offset, length], i) => {
    view.setBigUint64(16 * i, offset, endian === "little");
    view.setBigUint64(16 * i + 8, length, endian === "little");
  });
  if (checksum) view.setUint32(16 * entries.length, crc32c(bytes.subarray(0, 16 * entries.length)), true);
  return bytes;
}

function shardedMeta(config: Record<string, unknown> = {}, shape = [10, 6]) {
  return {
    zarr_format: 3,
    node_type: "array",
    shape,
    data_type: "uint8",
    chunk_grid: { name: "regular", configuration: { chunk_shape: [4, 4] } },
    chunk_key_encoding: { name: "default" },
    codecs: [
      {
        name: "sharding_indexed",
        configuration: {
          chunk_shape: [2, 2],
          codecs: [{ name: "bytes" }],
          index_codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "crc32c" }],
          ...config,
        },
      },
    ],
    fill_value: 0,
  };
}

describe("CRC-32C", () => {
  it("matches the published check value and the RFC 3720 vectors", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("continues over split input and reads only the view's bytes", () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
    expect(crc32c(data.subarray(300), crc32c(data.subarray(0, 300)))).toBe(crc32c(data));
    const padded = new Uint8Array(12);
    padded.set(new TextEncoder().encode("123456789"), 2);
    expect(crc32c(padded.subarray(2, 11))).toBe(0xe3069283);
  });
});

describe("shard index", () => {
  it("has 16 bytes per inner chunk, 4 more with crc32c, read as a suffix or from the start", () => {
    expect(shardIndexByteLength(layout(), 4)).toBe(64);
    expect(shardIndexByteLength(layout({ indexChecksum: true }), 4)).toBe(68);
    expect(shardIndexRange(layout({ indexChecksum: true }), 4)).toEqual({ suffixLength: 68 });
    expect(shardIndexRange(layout({ indexLocation: "start" }), 8)).toEqual({ offset: 0, length: 128 });
  });

  for (const endian of ["little", "big"] as const) {
    for (const checksum of [false, true]) {
      it(`decodes ${endian}-endian pairs${checksum ? " with a crc32c" : ""}, empty entries and offsets beyond 32 bits`, () => {
        const entries: [bigint, bigint][] = [
          [68n, 16n],
          [EMPTY, EMPTY],
          [2n ** 40n + 5n, 2n ** 33n],
          [0n, 0n],
        ];
        const index = decodeShardIndex(indexBytes(entries, endian, checksum), layout({ indexEndian: endian, indexChecksum: checksum }), 4);
        expect(index.count).toBe(4);
        expect(index.get(0)).toEqual({ offset: 68, length: 16 });
        expect(index.get(1)).toBe("empty");
        expect(index.get(2)).toEqual({ offset: 2 ** 40 + 5, length: 2 ** 33 });
        expect(index.get(3)).toEqual({ offset: 0, length: 0 });
        expect([...index.entries()].map(([i]) => i)).toEqual([0, 2, 3]);
        expect(index.find({ offset: 2 ** 40 + 5, length: 2 ** 33 })).toBe(2);
        expect(index.find({ offset: 68, length: 17 })).toBeUndefined();
        expect(index.storedBytes).toBe(16 + 2 ** 33);
      });
    }
  }

  it("reads the bytes of a view, not of its whole buffer", () => {
    const bytes = indexBytes([[5n, 6n]], "little", true);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    expect(decodeShardIndex(padded.subarray(3), layout({ indexChecksum: true }), 1).get(0)).toEqual({ offset: 5, length: 6 });
  });

  it("refuses a checksum mismatch (CORRUPT_ENTRY), the wrong size (INVALID_ARGUMENT) and impossible entries", () => {
    const good = indexBytes([[0n, 4n]], "little", true);
    const flipped = good.slice();
    flipped[3]! ^= 1;
    let caught: unknown;
    try {
      decodeShardIndex(flipped, layout({ indexChecksum: true }), 1);
    } catch (error) {
      caught = error;
    }
    expect(isZarrsCacheError(caught, "CORRUPT_ENTRY")).toBe(true);
    expect((caught as Error).message).toMatch(/checksum mismatch: stored crc32c 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/);
    expect(() => decodeShardIndex(good.subarray(0, 16), layout({ indexChecksum: true }), 1)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/has 16 bytes.*need 20/) }),
    );
    const corrupt = expect.objectContaining({ code: "CORRUPT_ENTRY" });
    expect(() => decodeShardIndex(indexBytes([[EMPTY, 4n]], "little", false), layout(), 1)).toThrow(corrupt);
    expect(() => decodeShardIndex(indexBytes([[0n, 2n ** 53n]], "little", false), layout(), 1)).toThrow(corrupt);
    const notBytes = "nope" as unknown as Uint8Array;
    expect(() => decodeShardIndex(notBytes, layout(), 1)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const index = decodeShardIndex(good, layout({ indexChecksum: true }), 1);
    expect(() => index.get(1)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("a sharded array model", () => {
  it("places inner chunks in shards: shard key, coordinates in the shard, C-order index position", () => {
    const model = zarrArray(shardedMeta(), { path: "/s" });
    expect(model.sharded).toBe(true);
    expect(model.keyGrid.shape).toEqual([3, 2]);
    expect(model.chunkGrid.shape).toEqual([5, 3]);
    expect(model.chunksPerShard).toEqual([2, 2]);
    expect(model.chunksPerShardCount).toBe(4);
    expect(model.shardIndexByteLength).toBe(68);
    expect(model.locate([3, 2])).toEqual({ chunk: [3, 2], path: "/s/c/1/1", keyCoords: [1, 1], inner: { coords: [1, 0], index: 2 } });
    expect(model.locate([4, 1])).toEqual({ chunk: [4, 1], path: "/s/c/2/0", keyCoords: [2, 0], inner: { coords: [0, 1], index: 1 } });
    expect(() => model.locate([5, 0])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it("lists a shard's inner chunks, leaving out those past the array's edge", () => {
    const model = zarrArray(shardedMeta(), { path: "/s" });
    expect(model.chunksOfKey([0, 0])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    expect(model.chunksOfKey([2, 1])).toEqual([[4, 2]]); // rows 8-9, cols 4-5: one inner chunk of four
    expect(model.keyRegion({ start: [1, 1], stop: [4, 2] })).toEqual({ start: [0, 0], stop: [2, 1] });
    expect(model.keyRegion({ start: [2, 0], stop: [2, 3] })).toEqual({ start: [0, 0], stop: [0, 0] });
  });

  it("predicts the index read and the inner chunks' ranges; empty inner chunks are not read", () => {
    for (const location of ["end", "start"] as const) {
      const model = zarrArray(shardedMeta({ index_location: location }), { path: "/s" });
      const expected = location === "end" ? { suffixLength: 68 } : { offset: 0, length: 68 };
      expect(model.indexRequest([2, 1])).toEqual({ path: "/s/c/2/1", range: expected });
      expect(model.isIndexRange(expected)).toBe(true);
      expect(model.isIndexRange({ suffixLength: 64 })).toBe(false);
      expect(model.isIndexRange({ offset: 0, length: 64 })).toBe(false);
      const index = model.decodeIndex(
        indexBytes(
          [
            [100n, 7n],
            [EMPTY, EMPTY],
            [0n, 9n],
            [9n, 3n],
          ],
          "little",
          true,
        ),
      );
      expect(model.chunkRequest([2, 0], index)).toEqual({ path: "/s/c/1/0", range: { offset: 100, length: 7 } });
      expect(model.chunkRequest([2, 1], index)).toBeUndefined();
      expect(model.chunkRequest([3, 1], index)).toEqual({ path: "/s/c/1/0", range: { offset: 9, length: 3 } });
      expect(() => model.chunkRequest([3, 1])).toThrow(/needs the shard index of \/s\/c\/1\/0/);
      const tooSmall = decodeShardIndex(indexBytes([[0n, 1n]], "little", false), layout(), 1);
      expect(() => model.chunkRequest([3, 1], tooSmall)).toThrow(/\(4 entries\), got one of 1 entries/);
    }
  });

  it("refuses sharding questions about an unsharded array", () => {
    const model = zarrArray({ zarr_format: 2, shape: [4], chunks: [2] }, { path: "/plain" });
    expect(model.sharded).toBe(false);
    expect(model.chunkGrid).toBe(model.keyGrid);
    expect(model.chunkRequest([1])).toEqual({ path: "/plain/1" });
    expect(model.locate([1])).toEqual({ chunk: [1], path: "/plain/1", keyCoords: [1] });
    expect(model.isIndexRange({ suffixLength: 16 })).toBe(false);
    for (const ask of [() => model.shardIndexByteLength, () => model.indexRequest([0]), () => model.decodeIndex(new Uint8Array(16))]) {
      expect(ask).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT", message: "array /plain is not sharded" }));
    }
  });
});
