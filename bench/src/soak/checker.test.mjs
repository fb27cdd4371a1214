// The checker on made-up histories: it must find what is there and nothing else.
//   node --test bench/src/soak/
import assert from "node:assert/strict";
import { test } from "node:test";
import { check } from "./checker.mjs";
import { makeValue, objectSize, verify } from "./values.mjs";

const BUS = 1000;
const HEAL = 2000;

function process(name, machine, records, extra = {}) {
  return { name, machine, offset: 0, tolerance: 0, records, ...extra };
}
const write = (id, v, s, e, ok = true) => ({ o: "w", id, via: "write", v, s, e, ok });
const read = (id, v, s, e = s + 1) => ({ o: "r", id, via: "get", s, e, v });
/** Object 0 had version 1 from the start and version 2 from t = 100. */
const applied = () =>
  new Map([
    [
      0,
      [
        { version: 1, at: 0 },
        { version: 2, at: 100 },
      ],
    ],
  ]);

function run(incarnations, { faults = [], machineDown = [] } = {}) {
  return check({ incarnations, applied: applied(), faults, machineDown, t0: 0, busBoundMs: BUS, healBoundMs: HEAL });
}

test("same process: a read started after its own write returned must see it", () => {
  const p0 = process("p0", 0, [write(0, 2, 100, 200), read(0, 1, 150, 190), read(0, 1, 201), read(0, 2, 202)]);
  const r = run([p0]);
  assert.equal(r.stale["same-process"].reads, 1);
  assert.equal(r.stale["same-process"].examples[0].readAt, 201);
  assert.equal(r.reads.ok, 3);
});

test("cross process: old reads within the bus bound are allowed, later ones are stale", () => {
  const p0 = process("p0", 0, [write(0, 2, 100, 200)]);
  const p1 = process("p1", 1, [read(0, 1, 700), read(0, 1, 1300), read(0, 2, 1400)]);
  const r = run([p0, p1]);
  assert.equal(r.withinBound["cross-process"].reads, 1);
  assert.equal(r.stale["cross-process"].reads, 1);
  assert.equal(r.stale["cross-process"].examples[0].lagMs, 100);
  assert.equal(r.reads.promisedStale, 1);
});

test("a failed write sets no deadline", () => {
  const p0 = process("p0", 0, [write(0, 2, 100, 200, false), read(0, 1, 300)]);
  const p1 = process("p1", 1, [read(0, 1, 5000)]);
  const r = run([p0, p1]);
  assert.equal(r.reads.stale, 0);
  assert.equal(r.changes.failed, 1);
});

test("a partition of the writer's node moves the deadline to healed + the heal bound", () => {
  const faults = [{ kind: "partition", machine: 0, start: 50, healed: 400 }];
  const p0 = process("p0", 0, [write(0, 2, 100, 200)]);
  const p1 = process("p1", 1, [read(0, 1, 1300), read(0, 1, 2500)]);
  const r = run([p0, p1], { faults });
  assert.equal(r.stale["cross-process"].reads, 0);
  assert.equal(r.stale["after-partition"].reads, 1);
  assert.equal(r.stale["after-partition"].examples[0].deadline, 2400);
  assert.equal(r.stale["after-partition"].byFault.partition, 1);
});

test("a partition of another node does not excuse anything", () => {
  const faults = [{ kind: "partition", machine: 2, start: 50, healed: 400 }];
  const p0 = process("p0", 0, [write(0, 2, 100, 200)]);
  const p1 = process("p1", 1, [read(0, 1, 1300)]);
  assert.equal(run([p0, p1], { faults }).stale["cross-process"].reads, 1);
});

test("a writer killed before its partition deadline is reported apart, not promised", () => {
  const faults = [{ kind: "redis-pause", start: 50, healed: 400 }];
  const p0 = process("p0", 0, [write(0, 2, 100, 200)], { killedAt: 1000 });
  const p1 = process("p1", 1, [read(0, 1, 2500)]);
  const r = run([p0, p1], { faults });
  assert.equal(r.stale["writer-crashed"].reads, 1);
  assert.equal(r.reads.promisedStale, 0);
});

test("a Redis call failing in the writer during the change counts as a short partition", () => {
  const p0 = process("p0", 0, [write(0, 2, 100, 200), { o: "x", t: 150, op: "set" }]);
  const p1 = process("p1", 1, [read(0, 1, 1300), read(0, 1, 2300)]);
  const r = run([p0, p1]);
  assert.equal(r.stale["after-partition"].reads, 1);
  assert.equal(r.stale["after-partition"].byFault["redis-errors"], 1);
});

test("a node that was down while the change was made gets until its return + the heal bound", () => {
  const machineDown = [{ machine: 1, start: 0, end: 500 }];
  const p0 = process("p0", 0, [write(0, 2, 100, 200)]);
  const p1 = process("p1", 1, [read(0, 1, 2400), read(0, 1, 2600)]);
  const r = run([p0, p1], { machineDown });
  assert.equal(r.stale["after-node-restart"].reads, 1);
  assert.equal(r.withinBound["after-node-restart"].reads, 1);
});

test("clock uncertainty is given to the cache", () => {
  const p0 = process("p0", 0, [write(0, 2, 100, 200)], { tolerance: 30 });
  const p1 = process("p1", 1, [read(0, 1, 1220)], { tolerance: 0 });
  assert.equal(run([p0, p1]).stale["cross-process"].reads, 0);
});

test("wrong bytes: a failed byte check, or a version the store did not have yet", () => {
  const p1 = process("p1", 1, [
    { o: "r", id: 0, via: "get", s: 10, e: 11, bad: "foreign", why: "bytes of object 3" },
    read(0, 2, 20, 30), // version 2 was applied only at t = 100
    read(0, 7, 200), // never stored
  ]);
  const r = run([p1]);
  assert.equal(r.wrong.total, 3);
  assert.deepEqual(r.wrong.byReason, { foreign: 1, phantom: 2 });
});

test("failed reads are split by the flaky-upstream windows", () => {
  const faults = [{ kind: "flaky-upstream", start: 100, healed: 200 }];
  const fail = (s) => ({ o: "r", id: 0, via: "get", s, e: s + 5, err: "HTTP 503" });
  const r = run([process("p1", 1, [fail(150), fail(300)])], { faults });
  assert.equal(r.failed.inFlakyWindow, 1);
  assert.equal(r.failed.outsideFlakyWindow, 1);
});

test("verify: exact ranges pass; other objects, lengths and bytes do not", () => {
  const value = makeValue(4, 9);
  assert.deepEqual(verify(4, value, 0, objectSize(4)), { version: 9 });
  assert.deepEqual(verify(4, value.subarray(37, 37 + 100), 37, 100), { version: 9 });
  assert.equal(verify(5, makeValue(4, 9).subarray(0, objectSize(5)), 0, objectSize(5)).bad, "foreign");
  assert.equal(verify(4, value.subarray(0, 64), 0, objectSize(4)).bad, "short");
  const flipped = value.slice();
  flipped[1000] ^= 0x10;
  assert.equal(verify(4, flipped, 0, objectSize(4)).bad, "corrupt");
  const mixed = value.slice();
  mixed.set(makeValue(4, 8).subarray(160, 320), 160); // two versions spliced together
  assert.equal(verify(4, mixed, 0, objectSize(4)).bad, "corrupt");
  assert.equal(verify(4, undefined, 0, objectSize(4)).bad, "absent");
});
