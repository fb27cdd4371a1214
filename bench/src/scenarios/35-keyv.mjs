// The keyv tier on @keyv/sqlite: 8 KiB and 1 MiB hits and 8 KiB writes against raw better-sqlite3
// (the engine under the disk tier) on files with the same pragmas; the tier's own overhead over
// raw Keyv; bytes stored per value byte. Adds the disk tier as a second baseline when it builds.
import path from "node:path";
import KeyvSqlite from "@keyv/sqlite";
import { disk } from "@zarrs-cache/disk";
import { keyvTier } from "@zarrs-cache/keyv";
import Database from "better-sqlite3";
import Keyv from "keyv";
import { compareOpsPerSec, opsPerSecConcurrent, randomBytes, row } from "../lib.mjs";

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL = 8 * KiB;
const LARGE = MiB;
const SMALL_KEYS = 256;
const LARGE_KEYS = 16;
const group = "keyv tier (@keyv/sqlite)";
const PRAGMAS = ["journal_mode = WAL", "synchronous = NORMAL", "mmap_size = 268435456"];

/** Creates the database file with 64 KiB pages and WAL (both stick to the file), as @keyv/sqlite will open it. */
function prepareFile(file, schema) {
  const db = new Database(file);
  db.pragma("page_size = 65536");
  for (const p of PRAGMAS) db.pragma(p);
  db.exec(schema);
  return db;
}

async function openKeyv(file) {
  prepareFile(file, "CREATE TABLE IF NOT EXISTS keyv(key VARCHAR(255) PRIMARY KEY, value TEXT)").close();
  const store = new KeyvSqlite(`sqlite://${file}`);
  // journal_mode and page_size live in the file; the rest is per connection.
  for (const p of PRAGMAS.slice(1)) await store.query(`PRAGMA ${p}`);
  const [{ page_size: pageSize }] = await store.query("PRAGMA page_size");
  if (pageSize !== 65536) throw new Error(`@keyv/sqlite file has page_size ${pageSize}`);
  return new Keyv({ store, namespace: "zc" });
}

export default async function ({ tmp, log }) {
  const small = Array.from({ length: SMALL_KEYS }, (_, i) => randomBytes(SMALL, i + 1));
  const large = Array.from({ length: LARGE_KEYS }, (_, i) => randomBytes(LARGE, i + 1000));
  const smallKey = (i) => `bench/c/${i % SMALL_KEYS}/0`;
  const largeKey = (i) => `bench/big/${i % LARGE_KEYS}`;

  // Baseline: better-sqlite3, one BLOB per key.
  const raw = prepareFile(path.join(tmp, "raw.sqlite"), "CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)");
  const rawGet = raw.prepare("SELECT value FROM kv WHERE key = ?").pluck();
  const rawPut = raw.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");

  const keyv = await openKeyv(path.join(tmp, "keyv.sqlite"));
  const tier = keyvTier(keyv);
  const plain = await openKeyv(path.join(tmp, "keyv-plain.sqlite"));

  const diskTier = disk({ dir: path.join(tmp, "disk"), maxBytes: 1024 * MiB });

  for (let i = 0; i < SMALL_KEYS; i++) {
    rawPut.run(smallKey(i), small[i]);
    await tier.set(smallKey(i), small[i]);
    await plain.set(smallKey(i), Buffer.from(small[i]));
    await diskTier.set(smallKey(i), small[i]);
  }
  for (let i = 0; i < LARGE_KEYS; i++) {
    rawPut.run(largeKey(i), large[i]);
    await tier.set(largeKey(i), large[i]);
    await diskTier.set(largeKey(i), large[i]);
  }
  log(`keyv tier encoding: ${tier.encoding}`);

  const rows = [];
  const compare = (label, unit, value, name, baselineValue, target) =>
    rows.push(row({ group, scenario: label, unit, value, baseline: name, baselineValue, target }));

  // 8 KiB hits.
  const hits = await compareOpsPerSec({
    raw: async (i) => rawGet.get(smallKey(i)),
    plain: (i) => plain.get(smallKey(i)),
    tier: (i) => tier.get(smallKey(i)),
    disk: (i) => diskTier.get(smallKey(i)),
  });
  log(
    `8 KiB get: better-sqlite3 ${hits.raw | 0}/s, raw Keyv(Buffer) ${hits.plain | 0}/s, keyv tier ${hits.tier | 0}/s, disk tier ${hits.disk | 0}/s`,
  );
  compare("8 KiB get vs better-sqlite3 get", "ops/s", hits.tier, "better-sqlite3 (WAL, 64 KiB pages, mmap)", hits.raw);
  compare("8 KiB get vs disk tier get", "ops/s", hits.tier, "@zarrs-cache/disk", hits.disk);
  compare("8 KiB get vs raw Keyv get of a Buffer (tier overhead)", "ops/s", hits.tier, "keyv.get() on @keyv/sqlite", hits.plain);
  // node-sqlite3 runs queries on libuv's thread pool, so concurrent gets overlap.
  const concurrent = await opsPerSecConcurrent((i) => tier.get(smallKey(i)), 16, { rounds: 5, roundMs: 300, warmupMs: 100 });
  log(`8 KiB get, 16 in flight: keyv tier ${concurrent | 0}/s`);
  compare(
    "8 KiB get, 16 in flight vs better-sqlite3 get (sync)",
    "ops/s",
    concurrent,
    "better-sqlite3 (WAL, 64 KiB pages, mmap)",
    hits.raw,
  );

  // 1 MiB hits, in MB/s.
  const big = await compareOpsPerSec(
    {
      raw: async (i) => rawGet.get(largeKey(i)),
      tier: (i) => tier.get(largeKey(i)),
      disk: (i) => diskTier.get(largeKey(i)),
    },
    { rounds: 5, roundMs: 200, warmupMs: 100 },
  );
  const mbps = (opsPerSec) => (opsPerSec * LARGE) / 1e6;
  log(`1 MiB get: better-sqlite3 ${mbps(big.raw) | 0} MB/s, keyv tier ${mbps(big.tier) | 0} MB/s, disk tier ${mbps(big.disk) | 0} MB/s`);
  compare("1 MiB get vs better-sqlite3 get", "MB/s", mbps(big.tier), "better-sqlite3 (WAL, 64 KiB pages, mmap)", mbps(big.raw));
  compare("1 MiB get vs disk tier get", "MB/s", mbps(big.tier), "@zarrs-cache/disk", mbps(big.disk));

  // 8 KiB writes (overwrites of the same keys).
  const writes = await compareOpsPerSec(
    {
      raw: async (i) => rawPut.run(smallKey(i), small[i % SMALL_KEYS]),
      tier: (i) => tier.set(smallKey(i), small[i % SMALL_KEYS]),
      disk: (i) => diskTier.set(smallKey(i), small[i % SMALL_KEYS]),
    },
    { rounds: 5, roundMs: 200, warmupMs: 100 },
  );
  log(`8 KiB set: better-sqlite3 ${writes.raw | 0}/s, keyv tier ${writes.tier | 0}/s, disk tier ${writes.disk | 0}/s`);
  compare("8 KiB set vs better-sqlite3 put", "ops/s", writes.tier, "better-sqlite3 upsert", writes.raw);
  compare("8 KiB set vs disk tier set", "ops/s", writes.tier, "@zarrs-cache/disk", writes.disk);

  // Bytes stored per value byte: what the sqlite row holds (UTF-8 text) over the value's length.
  const storedBytes = async (store, key) =>
    (await store.query("SELECT length(CAST(value AS BLOB)) AS n FROM keyv WHERE key = ?", key))[0].n;
  await plain.set("naive", small[0]);
  const naive = (await storedBytes(plain.store, "zc:naive")) / SMALL;
  for (const [label, key, bytes] of [
    ["8 KiB", smallKey(0), SMALL],
    ["1 MiB", largeKey(0), LARGE],
  ]) {
    const perByte = (await storedBytes(keyv.store, `zc:${key}`)) / bytes;
    const blob = raw.prepare("SELECT length(value) FROM kv WHERE key = ?").pluck().get(key) / bytes;
    log(
      `${label}: keyv tier stores ${perByte.toFixed(4)} bytes per value byte; better-sqlite3 BLOB ${blob.toFixed(4)}; raw Keyv Uint8Array ${naive.toFixed(2)}`,
    );
    rows.push(
      row({
        group,
        scenario: `${label} value: bytes stored per value byte vs a BLOB`,
        unit: "B/B",
        value: perByte,
        baseline: "better-sqlite3 BLOB",
        baselineValue: blob,
        target: "<= 1.34",
        notes: perByte.toFixed(4),
      }),
    );
    if (label === "8 KiB") {
      rows.push(
        row({
          group,
          scenario: "8 KiB value: bytes stored vs raw Keyv given a Uint8Array",
          unit: "B/B",
          value: perByte,
          baseline: "keyv.set(k, uint8array)",
          baselineValue: naive,
        }),
      );
    }
  }

  await tier.close();
  await plain.disconnect();
  await diskTier.close();
  raw.close();
  return rows;
}
