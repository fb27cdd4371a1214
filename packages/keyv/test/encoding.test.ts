import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import KeyvSqlite from "@keyv/sqlite";
import { keyvTier } from "@zarrs-cache/keyv";
import Keyv from "keyv";
import { afterAll, afterEach, describe, expect, it } from "vitest";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-keyv-encoding-"));
let files = 0;
const opened: Keyv[] = [];
afterEach(async () => {
  for (const keyv of opened.splice(0)) await keyv.disconnect().catch(() => {});
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sqliteKeyv(options: Record<string, unknown> = {}): Keyv {
  const keyv = new Keyv({ store: new KeyvSqlite(`sqlite://${path.join(dir, `e${files++}.sqlite`)}`), namespace: "zc", ...options });
  opened.push(keyv);
  return keyv;
}

function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 167 + (i >> 8)) & 0xff);
}

/** What the sqlite row holds for `key`: the exact text Keyv wrote. */
async function storedText(keyv: Keyv, key: string): Promise<string> {
  const text = await (keyv.store as KeyvSqlite).get(`zc:${key}`);
  expect(typeof text).toBe("string");
  return text as string;
}

describe("what raw Keyv 5 does to bytes (why the tier converts)", () => {
  it("stores a Uint8Array as a JSON object many times larger and returns a plain object", async () => {
    const keyv = sqliteKeyv();
    const value = pattern(3000);
    await keyv.set("raw", value);
    const stored = await storedText(keyv, "raw");
    expect(stored.length / value.byteLength).toBeGreaterThan(5);
    const back: unknown = await keyv.get("raw");
    expect(back).not.toBeInstanceOf(Uint8Array);
    expect(typeof back).toBe("object");
  });

  it("stores a Buffer as base64 text (about 1.34 characters per byte)", async () => {
    const keyv = sqliteKeyv();
    await keyv.set("buf", Buffer.from(pattern(3000)));
    const ratio = (await storedText(keyv, "buf")).length / 3000;
    expect(ratio).toBeGreaterThan(1.33);
    expect(ratio).toBeLessThan(1.35);
  });
});

describe("keyvTier encoding", () => {
  it("returns a real Uint8Array (not a Buffer, not an object) with the exact bytes", async () => {
    const tier = keyvTier(sqliteKeyv());
    const value = pattern(3000);
    await tier.set("bytes", value);
    const entry = await tier.get("bytes");
    expect(Object.getPrototypeOf(entry!.value)).toBe(Uint8Array.prototype);
    expect(Buffer.compare(entry!.value, value)).toBe(0);
    await tier.close();
  });

  it("stores base64 text through the default serializer: at most 1.34 bytes per byte plus a small header", async () => {
    const keyv = sqliteKeyv();
    const tier = keyvTier(keyv);
    const value = pattern(30_000);
    await tier.set("b64", value);
    expect(tier.encoding).toBe("base64");
    const stored = await storedText(keyv, "b64");
    expect(stored.length).toBeLessThanOrEqual(Math.ceil(value.byteLength / 3) * 4 + 40);
    expect(stored.length).toBeGreaterThan(value.byteLength * 1.33);
    await tier.close();
  });

  it("keeps the absolute expiry in the entry, and uses the Keyv instance's default ttl", async () => {
    const keyv = sqliteKeyv({ ttl: 60_000 });
    const tier = keyvTier(keyv);
    const before = Date.now();
    await tier.set("default-ttl", pattern(10));
    const entry = await tier.get("default-ttl");
    expect(entry!.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(entry!.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
    // Keyv's own expiry (its reclaiming mechanism) is set too, no earlier than ours.
    const raw = (await keyv.get("zc:default-ttl", { raw: true })) as { expires?: number };
    expect(raw.expires).toBeGreaterThanOrEqual(entry!.expiresAt!);
    await tier.close();
  });

  it("prefers the tier's ttl option over the Keyv instance's", async () => {
    const tier = keyvTier(sqliteKeyv({ ttl: 60_000 }), { ttl: 5_000 });
    await tier.set("tier-ttl", pattern(10));
    const remaining = (await tier.get("tier-ttl"))!.expiresAt! - Date.now();
    expect(remaining).toBeGreaterThan(4_000);
    expect(remaining).toBeLessThanOrEqual(5_000);
    await tier.close();
  });

  it("hands a raw store (serialize: undefined) the bytes themselves: no expansion", async () => {
    const keyv = new Keyv({ namespace: "zc", serialize: undefined, deserialize: undefined });
    const tier = keyvTier(keyv);
    await tier.set("raw", pattern(1000));
    expect(tier.encoding).toBe("binary");
    const held = (keyv.store as Map<string, { value: unknown }>).get("zc:raw")!.value;
    expect(held).toBeInstanceOf(Uint8Array);
    expect((held as Uint8Array).byteLength).toBe(1000 + 18);
    expect(Buffer.compare((await tier.get("raw"))!.value, pattern(1000))).toBe(0);
  });

  it("falls back to base64 for a serializer that cannot keep a Buffer (JSON.stringify/parse)", async () => {
    const keyv = sqliteKeyv({ serialize: JSON.stringify, deserialize: JSON.parse });
    const tier = keyvTier(keyv);
    await tier.set("json", pattern(500));
    expect(tier.encoding).toBe("base64");
    expect(Buffer.compare((await tier.get("json"))!.value, pattern(500))).toBe(0);
    await tier.close();
  });

  it("honours encoding: 'base64' and reads entries written in either form", async () => {
    const keyv = new Keyv({ namespace: "zc", serialize: undefined, deserialize: undefined });
    const text = keyvTier(keyv, { encoding: "base64", disconnectOnClose: false });
    await text.set("t", pattern(100));
    expect(typeof (keyv.store as Map<string, { value: unknown }>).get("zc:t")!.value).toBe("string");
    const binary = keyvTier(keyv, { encoding: "binary" });
    await binary.set("b", pattern(100));
    expect(Buffer.compare((await binary.get("t"))!.value, pattern(100))).toBe(0);
    expect(Buffer.compare((await text.get("b"))!.value, pattern(100))).toBe(0);
  });

  it("keeps keys that start with the namespace apart (raw Keyv would not prefix them)", async () => {
    const tier = keyvTier(sqliteKeyv());
    await tier.set("x", pattern(8));
    await tier.set("zc:x", pattern(9));
    expect((await tier.get("x"))!.value.byteLength).toBe(8);
    expect((await tier.get("zc:x"))!.value.byteLength).toBe(9);
    const keys: string[] = [];
    for await (const key of tier.keys()) keys.push(key);
    expect(keys.sort()).toEqual(["x", "zc:x"]);
    await tier.close();
  });
});
