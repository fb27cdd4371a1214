// The Redis tier against raw ioredis on the same server, in the same run:
//  - hits of 8 KiB values, 32 calls in flight: tier.get vs client.getBuffer   (target >= 0.9)
//  - batched reads of 64 keys: tier.getMany vs client.mgetBuffer               (target >= 0.9)
// plus rows without a target that record why the tier stores the expiry in a value header
// instead of asking Redis for PTTL (GET+PTTL pairs, Lua, MULTI), and auto-pipelining on/off.
// Needs Redis on 127.0.0.1:6379; uses its own key prefix and removes its keys afterwards.
import { Redis } from "ioredis";
import { redis } from "@zarrs-cache/redis";
import { aaNote, compareWithAA, randomBytes, row } from "../lib.mjs";

const URL = "redis://127.0.0.1:6379";
const KEYS = 1000;
const SIZE = 8 * 1024;
const IN_FLIGHT = 32;
const BATCH = 64;
const BATCHES_IN_FLIGHT = 4;
const GROUP = "redis";
const LUA_ONE = "local v = redis.call('GET', KEYS[1]) if not v then return false end return {v, redis.call('PTTL', KEYS[1])}";
const LUA_MANY =
  "local r = {} for i = 1, #KEYS do local v = redis.call('GET', KEYS[i]) r[2*i-1] = v if v then r[2*i] = redis.call('PTTL', KEYS[i]) else r[2*i] = -2 end end return r";

export default async function ({ log }) {
  const prefix = `zc-bench:${process.pid}-${Date.now()}:`;
  const probe = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  await probe.connect().catch((error) => {
    throw new Error(`Redis is needed on ${URL}: ${error.message}`);
  });
  probe.disconnect();

  const tier = redis({ url: URL, keyPrefix: prefix, bus: false });
  const tierPlain = redis({ url: URL, keyPrefix: prefix, bus: false, autoPipelining: false });
  const plain = new Redis(URL);
  const auto = new Redis(URL, { enableAutoPipelining: true });
  for (const client of [plain, auto]) {
    client.defineCommand("entry", { numberOfKeys: 1, lua: LUA_ONE });
    client.defineCommand("entries", { lua: LUA_MANY });
  }
  try {
    const names = Array.from({ length: KEYS }, (_, i) => `arr/c/${i}`);
    for (let i = 0; i < KEYS; i += 100) {
      await Promise.all(names.slice(i, i + 100).map((name, k) => tier.set(name, randomBytes(SIZE, i + k + 1))));
    }
    const full = (i) => prefix + names[i % KEYS];
    const batch = (i, keyOf) => Array.from({ length: BATCH }, (_, k) => keyOf((i * BATCH + k) % KEYS));

    log(`single gets, ${SIZE} B values, ${IN_FLIGHT} in flight`);
    const { medians: single, aaSpread: singleAA } = await compareWithAA(
      {
        rawPlain: (i) => plain.getBuffer(full(i)),
        rawAuto: (i) => auto.getBuffer(full(i)),
        tier: (i) => tier.get(names[i % KEYS]),
        tierNoAutoPipelining: (i) => tierPlain.get(names[i % KEYS]),
        pairPttl: (i) => Promise.all([auto.getBuffer(full(i)), auto.pttl(full(i))]),
        luaPttl: (i) => plain.entryBuffer(full(i)),
        multiPttl: (i) => plain.multi().getBuffer(full(i)).pttl(full(i)).exec(),
      },
      "rawPlain",
      { concurrency: IN_FLIGHT, roundMs: 250 },
    );
    log(JSON.stringify(single), aaNote(singleAA));

    log(`batches of ${BATCH} keys, ${BATCHES_IN_FLIGHT} batches in flight (keys/s)`);
    const { medians: many, aaSpread: manyAA } = await compareWithAA(
      {
        rawMget: (i) => plain.mgetBuffer(batch(i, full)),
        tier: (i) => tier.getMany(batch(i, (k) => names[k])),
        luaPttl: (i) => {
          const keys = batch(i, full);
          return plain.entriesBuffer(keys.length, ...keys);
        },
        mgetPlusPttl: (i) => {
          const keys = batch(i, full);
          const pipeline = plain.pipeline().mgetBuffer(keys);
          for (const key of keys) pipeline.pttl(key);
          return pipeline.exec();
        },
      },
      "rawMget",
      { concurrency: BATCHES_IN_FLIGHT, roundMs: 250 },
    );
    for (const name of Object.keys(many)) many[name] *= BATCH;
    log(JSON.stringify(many), aaNote(manyAA));

    const bestRaw = Math.max(single.rawPlain, single.rawAuto);
    const rawName =
      single.rawPlain >= single.rawAuto
        ? "raw getBuffer (plain client, the faster here)"
        : "raw getBuffer (auto-pipelined client, the faster here)";
    const viaGet = (scenario, value, notes) =>
      row({ group: GROUP, scenario, unit: "ops/s", value, baseline: rawName, baselineValue: bestRaw, notes });
    const viaMget = (scenario, value, notes) =>
      row({
        group: GROUP,
        scenario,
        unit: "keys/s",
        value,
        baseline: `raw mgetBuffer (${BATCH} keys)`,
        baselineValue: many.rawMget,
        notes,
      });
    return [
      row({
        group: GROUP,
        scenario: `tier.get hit, 8 KiB, ${IN_FLIGHT} in flight`,
        unit: "ops/s",
        value: single.tier,
        baseline: rawName,
        baselineValue: bestRaw,
        target: ">= 0.9",
        notes: `raw plain ${Math.round(single.rawPlain)}/s, raw auto-pipelined ${Math.round(single.rawAuto)}/s; ${aaNote(singleAA)}`,
      }),
      row({
        group: GROUP,
        scenario: `tier.getMany, ${BATCH} × 8 KiB, ${BATCHES_IN_FLIGHT} batches in flight`,
        unit: "keys/s",
        value: many.tier,
        baseline: `raw mgetBuffer (${BATCH} keys)`,
        baselineValue: many.rawMget,
        target: ">= 0.9",
        notes: aaNote(manyAA),
      }),
      viaGet("tier.get with autoPipelining: false", single.tierNoAutoPipelining),
      viaGet("design: GET + PTTL, auto-pipelined pair", single.pairPttl, "why the expiry lives in a value header"),
      viaGet("design: Lua script returning value + PTTL", single.luaPttl, "why the expiry lives in a value header"),
      viaGet("design: MULTI GET + PTTL", single.multiPttl, "why the expiry lives in a value header"),
      viaMget("design: Lua GET + PTTL over 64 keys", many.luaPttl, "why the expiry lives in a value header"),
      viaMget("design: MGET + 64 PTTL, pipelined", many.mgetPlusPttl, "why the expiry lives in a value header"),
    ];
  } finally {
    await tier.clear().catch(() => undefined);
    await Promise.all([tier.close(), tierPlain.close()]);
    plain.disconnect();
    auto.disconnect();
  }
}
