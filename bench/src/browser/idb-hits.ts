// Runs in Chromium: IndexedDB tier hits against raw IndexedDB gets of the same values, in the same
// page, alternating rounds so that both see the same machine state. Returns medians.
import { indexedDb } from "@zarrs-cache/indexeddb";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function rawGet(db: IDBDatabase, key: string): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const request = db.transaction("raw", "readonly").objectStore("raw").get(key);
    request.onsuccess = () => resolve(request.result as Uint8Array | undefined);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Raw gets that share one readonly transaction while it is active, as the tier's reads do: the
 * best raw IndexedDB can do for a chain of gets (a stricter baseline than one transaction each).
 */
function rawSharedGetter(db: IDBDatabase): (key: string) => Promise<Uint8Array | undefined> {
  let tx: IDBTransaction | undefined;
  return (key) => {
    let request: IDBRequest;
    try {
      request = tx!.objectStore("raw").get(key);
    } catch {
      tx = db.transaction("raw", "readonly");
      request = tx.objectStore("raw").get(key);
    }
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result as Uint8Array | undefined);
      request.onerror = () => reject(request.error);
    });
  };
}

async function openRaw(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("raw");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function opsPerSecond(keys: string[], get: (key: string) => Promise<unknown>, ms: number): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  const started = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) {
      if ((await get(keys[n % keys.length]!)) === undefined) throw new Error(`miss on ${keys[n % keys.length]}`);
      n++;
    }
  }
  return n / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchIdbHits({ valueBytes = 8192, count = 200, rounds = 9, roundMs = 400 } = {}) {
  const suffix = Math.random().toString(36).slice(2);
  const tier = indexedDb({ name: `bench-tier-${suffix}`, maxBytes: 256 * 1024 * 1024 });
  const raw = await openRaw(`bench-raw-${suffix}`);
  const keys = Array.from({ length: count }, (_, i) => `ds:c/${i % 16}/${Math.floor(i / 16)}`);
  for (const [i, key] of keys.entries()) {
    const value = bytes(valueBytes, i + 1);
    await tier.set(key, value);
    await new Promise<void>((resolve, reject) => {
      const tx = raw.transaction("raw", "readwrite");
      tx.objectStore("raw").put(value, key);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
  await sleep(100);
  const tierRates: number[] = [];
  const rawRates: number[] = [];
  await opsPerSecond(keys, (k) => tier.get(k), 200); // warm-up, both
  await opsPerSecond(keys, (k) => rawGet(raw, k), 200);
  // Alternating which goes first, and comparing each round's pair: this machine's load changes
  // faster than a whole run, so the median of paired ratios is steadier than a ratio of medians.
  const ratios: number[] = [];
  const rawShared = rawSharedGetter(raw);
  const sharedRates: number[] = [];
  const sharedRatios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const tierFirst = round % 2 === 0;
    const a = await opsPerSecond(keys, tierFirst ? (k) => tier.get(k) : (k) => rawGet(raw, k), roundMs);
    const b = await opsPerSecond(keys, tierFirst ? (k) => rawGet(raw, k) : (k) => tier.get(k), roundMs);
    const [t, r] = tierFirst ? [a, b] : [b, a];
    tierRates.push(t);
    rawRates.push(r);
    ratios.push(t / r);
    // Then the stricter baseline, right after the tier's round.
    const shared = await opsPerSecond(keys, rawShared, roundMs);
    sharedRates.push(shared);
    sharedRatios.push(t / shared);
  }
  await tier.clear();
  await tier.close();
  raw.close();
  indexedDB.deleteDatabase(`bench-raw-${suffix}`);
  indexedDB.deleteDatabase(`bench-tier-${suffix}`);
  return {
    valueBytes,
    count,
    rounds,
    tier: median(tierRates),
    raw: median(rawRates),
    ratio: median(ratios),
    tierRates,
    rawRates,
    ratios,
    rawShared: median(sharedRates),
    sharedRatio: median(sharedRatios),
    sharedRates,
    sharedRatios,
  };
}

/**
 * Why the tier stores 60–240 KiB payloads in pieces: raw IndexedDB reads of `count` values of
 * `valueBytes` in one readonly transaction, each stored as one record (over 64 KiB, Chromium makes
 * it a blob file) against the same bytes as records of at most 60 KiB. Alternating rounds.
 */
export async function benchPieces({ valueBytes = 65536, count = 9, rounds = 9, pieceBytes = 60 * 1024 } = {}) {
  const suffix = Math.random().toString(36).slice(2);
  const name = `bench-pieces-${suffix}`;
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("whole");
      request.result.createObjectStore("pieces");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const written = db.transaction(["whole", "pieces"], "readwrite");
  for (let i = 0; i < count; i++) {
    const value = bytes(valueBytes, i + 1);
    written.objectStore("whole").put({ v: value }, `k${i}`);
    for (let at = 0, part = 0; at < valueBytes; at += pieceBytes, part++)
      written.objectStore("pieces").put({ v: value.slice(at, at + pieceBytes) }, [`k${i}`, part]);
  }
  await new Promise((resolve, reject) => {
    written.oncomplete = resolve;
    written.onerror = () => reject(written.error);
  });
  const readAll = async (store: "whole" | "pieces") => {
    const started = performance.now();
    const tx = db.transaction(store, "readonly");
    const reads = Array.from({ length: count }, (_, i) => {
      const request =
        store === "whole"
          ? tx.objectStore(store).get(`k${i}`)
          : tx.objectStore(store).getAll(IDBKeyRange.bound([`k${i}`, 0], [`k${i}`, Infinity]));
      return new Promise((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    });
    await Promise.all(reads);
    return performance.now() - started;
  };
  await readAll("whole");
  await readAll("pieces");
  const whole: number[] = [];
  const pieces: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const wholeFirst = round % 2 === 0;
    const a = await readAll(wholeFirst ? "whole" : "pieces");
    const b = await readAll(wholeFirst ? "pieces" : "whole");
    whole.push(wholeFirst ? a : b);
    pieces.push(wholeFirst ? b : a);
  }
  db.close();
  indexedDB.deleteDatabase(name);
  return { valueBytes, count, whole: median(whole), pieces: median(pieces), wholeMs: whole, piecesMs: pieces };
}

Object.assign(window, { benchIdbHits, benchPieces });
