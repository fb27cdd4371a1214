// Payloads over PIECE_BYTES are stored in pieces that each stay under Chromium's 64 KiB blob
// threshold; every path that replaces or drops a payload drops its pieces too.
import { DB_VERSION, MAX_SPLIT_BYTES, PIECE_BYTES, indexedDb } from "@zarrs-cache/indexeddb";
import { openDB } from "idb";
import { afterEach, describe, expect, it } from "vitest";
import { dropDatabases, freshName } from "./helpers.js";

afterEach(dropDatabases);

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function piecesIn(name: string): Promise<number> {
  const db = await openDB(name);
  const n = await db.count("pieces");
  db.close();
  return n;
}

describe("indexedDb: payloads in pieces", () => {
  it("stores a payload over PIECE_BYTES in pieces under the threshold and reads it back whole", async () => {
    const name = freshName("pieces");
    const tier = indexedDb({ name, maxBytes: 8 << 20 });
    const big = pattern(2 * PIECE_BYTES + 123, 1);
    // A view into a larger buffer: only its own bytes are stored.
    const view = new Uint8Array(PIECE_BYTES + 10 + 7).fill(9).subarray(7);
    await tier.set("big", big);
    await tier.set("view", view);
    await tier.set("small", pattern(100, 2));
    expect(Array.from((await tier.get("big"))!.value)).toEqual(Array.from(big));
    expect(Array.from((await tier.get("view"))!.value)).toEqual(Array.from(view));
    const many = await tier.getMany(["small", "big", "missing"]);
    expect(Array.from(many[1]!.value)).toEqual(Array.from(big));
    expect(many[2]).toBeUndefined();
    const db = await openDB(name);
    const first = await db.get("values", "big");
    expect(first.v.byteLength).toBe(PIECE_BYTES);
    expect(first.n).toBe(3);
    const later = await db.getAll("pieces");
    expect(later.map((piece) => piece.byteLength).sort((a, b) => a - b)).toEqual([10, 123, PIECE_BYTES]);
    expect(later.every((piece) => piece.buffer.byteLength === piece.byteLength)).toBe(true);
    db.close();
    await tier.close();
  });

  it("keeps a payload over MAX_SPLIT_BYTES in one record", async () => {
    const name = freshName("pieces-large");
    const tier = indexedDb({ name, maxBytes: 8 << 20 });
    const large = pattern(MAX_SPLIT_BYTES + 1, 3);
    await tier.set("large", large);
    expect(await piecesIn(name)).toBe(0);
    expect(Array.from((await tier.get("large"))!.value)).toEqual(Array.from(large));
    await tier.close();
  });

  it("drops the pieces when a payload is overwritten, deleted, evicted or cleared", async () => {
    const name = freshName("pieces-drop");
    const tier = indexedDb({ name, maxBytes: 4 * PIECE_BYTES });
    await tier.set("a", pattern(3 * PIECE_BYTES, 1));
    expect(await piecesIn(name)).toBe(2);
    await tier.set("a", pattern(10, 2)); // overwritten by a one-piece payload
    expect(await piecesIn(name)).toBe(0);
    expect(Array.from((await tier.get("a"))!.value)).toEqual(Array.from(pattern(10, 2)));
    await tier.set("b", pattern(2 * PIECE_BYTES, 3));
    await tier.delete("b");
    expect(await piecesIn(name)).toBe(0);
    await tier.set("c", pattern(2 * PIECE_BYTES, 4));
    await tier.set("d", pattern(2 * PIECE_BYTES, 5)); // evicts "a" and "c" to stay under maxBytes
    expect(await tier.get("c")).toBeUndefined();
    expect(await piecesIn(name)).toBe(1);
    expect(Array.from((await tier.get("d"))!.value)).toEqual(Array.from(pattern(2 * PIECE_BYTES, 5)));
    await tier.deletePrefix("d");
    expect(await piecesIn(name)).toBe(0);
    await tier.set("e", pattern(2 * PIECE_BYTES, 6));
    await tier.clear();
    expect(await piecesIn(name)).toBe(0);
    await tier.close();
  });

  it("reads a payload whose pieces are incomplete as a miss", async () => {
    const name = freshName("pieces-broken");
    const tier = indexedDb({ name, maxBytes: 8 << 20 });
    await tier.set("k", pattern(2 * PIECE_BYTES, 1));
    const db = await openDB(name);
    await db.clear("pieces");
    db.close();
    expect(await tier.get("k")).toBeUndefined();
    await tier.close();
  });

  it("upgrades a version 1 database in place: its entries, one record each, still read", async () => {
    const name = freshName("v1");
    const big = pattern(100_000, 7);
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore("values");
        const index = db.createObjectStore("index", { keyPath: "k" });
        index.createIndex("access", "a");
        index.createIndex("expiry", "x");
        db.createObjectStore("meta");
      },
    });
    const size = big.byteLength + 64 + 2;
    await v1.put("values", { v: big }, "k");
    await v1.put("index", { k: "k", s: size, a: Date.now() });
    await v1.put("meta", { bytes: size, entries: 1 }, "totals");
    v1.close();
    const tier = indexedDb({ name, maxBytes: 8 << 20 });
    expect(Array.from((await tier.get("k"))!.value)).toEqual(Array.from(big));
    expect(tier.stats().bytes).toBe(size);
    await tier.set("k", pattern(100_000, 8)); // rewritten in pieces
    expect(await piecesIn(name)).toBe(1);
    expect(Array.from((await tier.get("k"))!.value)).toEqual(Array.from(pattern(100_000, 8)));
    const db = await openDB(name);
    expect(db.version).toBe(DB_VERSION);
    db.close();
    await tier.close();
  });
});
