// Disk tier: hits at 8 KiB and 1 MiB against the two floors measured in the same run on the same
// bytes (readFileSync of one file per value, raw better-sqlite3 gets with the tier's pragmas), and
// writes against raw SQLite inserts and new-file writes. Candidates are measured in alternating
// rounds so that noise from other work on the machine hits them alike.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { disk } from "@zarrs-cache/disk";
import { median, opsPerSec, randomBytes, row } from "../lib.mjs";

const KiB = 1024;
const MiB = 1024 * KiB;
const GROUP = "disk";

/** ops/s of each candidate: `rounds` alternating rounds of ~roundMs each, median per candidate. */
async function compare(candidates, { rounds = 7, roundMs = 250 } = {}) {
  const results = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, op] of Object.entries(candidates)) {
      results[name].push(await opsPerSec(op, { rounds: 1, roundMs, warmupMs: r === 0 ? 150 : 20 }));
    }
  }
  return Object.fromEntries(Object.entries(results).map(([name, values]) => [name, median(values)]));
}

/** A raw better-sqlite3 database with the tier's pragmas: the floor for SQLite gets and puts. */
function rawSqlite(file) {
  const db = new Database(file);
  db.pragma("page_size = 4096");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("mmap_size = 2147418112");
  db.pragma("wal_autocheckpoint = 1024");
  db.exec("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)");
  return db;
}

export default async function ({ tmp, log }) {
  const rows = [];
  for (const { label, size, count } of [
    { label: "8 KiB", size: 8 * KiB, count: 4000 },
    { label: "1 MiB", size: MiB, count: 64 },
  ]) {
    const values = Array.from({ length: 16 }, (_, i) => randomBytes(size, i + 1));
    const keys = Array.from({ length: count }, (_, i) => `https://example.com/data.zarr/${label}/c/${i}/0/0`);
    const valueOf = (i) => values[i % values.length];
    const pick = (i) => (i * 7919) % count; // a fixed shuffle: no two consecutive reads of one key

    const filesDir = path.join(tmp, `files-${size}`);
    fs.mkdirSync(filesDir);
    const fileOf = (i) => path.join(filesDir, `${i}.bin`);
    const db = rawSqlite(path.join(tmp, `raw-${size}.sqlite`));
    const put = db.prepare("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)");
    const get = db.prepare("SELECT value FROM kv WHERE key = ?").pluck();
    const tier = disk({ dir: path.join(tmp, `tier-${size}`), maxBytes: 4 * 1024 * MiB });
    tier.open();
    for (let i = 0; i < count; i++) {
      fs.writeFileSync(fileOf(i), valueOf(i));
      put.run(keys[i], valueOf(i));
      await tier.set(keys[i], valueOf(i));
    }
    // Sanity: the tier serves the bytes that were stored.
    if (Buffer.compare((await tier.get(keys[3])).value, valueOf(3)) !== 0) throw new Error("disk tier returned wrong bytes");

    const reads = await compare({
      readFileSync: (i) => fs.readFileSync(fileOf(pick(i))),
      sqlite: (i) => get.get(keys[pick(i)]),
      disk: (i) => tier.get(keys[pick(i)]),
    });
    const floorName = reads.readFileSync >= reads.sqlite ? "readFileSync" : "raw better-sqlite3 get";
    const floor = Math.max(reads.readFileSync, reads.sqlite);
    log(
      `${label} hits/s: disk ${Math.round(reads.disk)}, readFileSync ${Math.round(reads.readFileSync)}, raw sqlite ${Math.round(reads.sqlite)}`,
    );
    const mb = (ops) => (ops * size) / 1e6;
    if (size < MiB) {
      rows.push(
        row({
          group: GROUP,
          scenario: `disk get hit ${label}`,
          unit: "ops/s",
          value: reads.disk,
          baseline: floorName,
          baselineValue: floor,
          target: ">= 0.5",
          notes: `readFileSync ${Math.round(reads.readFileSync)}/s, raw sqlite ${Math.round(reads.sqlite)}/s`,
        }),
      );
    } else {
      const r = row({
        group: GROUP,
        scenario: `disk get hit ${label}`,
        unit: "MB/s",
        value: mb(reads.disk),
        baseline: floorName,
        baselineValue: mb(floor),
        notes: `readFileSync ${Math.round(mb(reads.readFileSync))} MB/s, raw sqlite ${Math.round(mb(reads.sqlite))} MB/s; target is absolute`,
      });
      rows.push({ ...r, target: ">= 1000 MB/s", pass: mb(reads.disk) >= 1000 });
    }

    // Writes: overwrite keys in a cycle so the disk use stays bounded; a new file per write for the floor.
    const cycle = size < MiB ? count : 32;
    let n = 0;
    const writes = await compare(
      {
        sqlite: (i) => put.run(keys[i % cycle], valueOf(i)),
        newFile: (i) => {
          const file = fileOf(i % cycle);
          const temp = `${file}.${n++}.tmp`;
          fs.writeFileSync(temp, valueOf(i));
          fs.renameSync(temp, file);
        },
        disk: (i) => tier.set(keys[i % cycle], valueOf(i)),
      },
      { rounds: 5, roundMs: 250 },
    );
    log(
      `${label} writes/s: disk ${Math.round(writes.disk)}, raw sqlite ${Math.round(writes.sqlite)}, new file + rename ${Math.round(writes.newFile)}`,
    );
    const writeFloor =
      size < MiB ? { name: "raw better-sqlite3 insert", value: writes.sqlite } : { name: "new file + rename", value: writes.newFile };
    rows.push(
      row({
        group: GROUP,
        scenario: `disk set ${label}`,
        unit: "ops/s",
        value: writes.disk,
        baseline: writeFloor.name,
        baselineValue: writeFloor.value,
        notes: `raw sqlite ${Math.round(writes.sqlite)}/s, new file + rename ${Math.round(writes.newFile)}/s; values ${size < 128 * KiB ? "inside the database" : "in files"}`,
      }),
    );

    await tier.close();
    db.close();
  }
  return rows;
}
