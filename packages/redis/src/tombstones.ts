import { Script } from "./scripts.js";

/**
 * Tombstones: what a delete, a prefix delete or a clear leaves behind for `tombstoneTtl` ms, so
 * that a read-through fill whose load began before that change cannot put the old value back
 * (see SetOptions.loadStartedAt and the README, "Conditional fills").
 *
 * - A key's tombstone takes the key's place: the byte "t" then the Redis server time of the
 *   delete in ms (decimal), with PX tombstoneTtl. Reads answer it as a miss; `keys()` and `has()`
 *   skip it. One key, so it lives in the key's own slot on a Cluster.
 * - Prefix tombstones live in one small hash per namespace (field: prefix, value: server time),
 *   pruned by age at each prefix delete, expiring as a whole tombstoneTtl after the last one.
 *
 * Times are compared in the Redis server's clock (TIME inside the scripts), so clock skew between
 * nodes does not matter: a fill sends how long ago its load began by this node's clock (its
 * age) and, when known, its start mapped into the server's clock by a conservative offset (see
 * ServerClock); the earlier of the two counts.
 */
export const TOMBSTONE_BYTE = 0x74; // "t"

/** The hash holding the prefix tombstones of the namespace `keyPrefix` (outside the namespace: `keys()` never sees it). */
export function prefixTombstoneHash(keyPrefix: string): string {
  return `zarrs-cache:tombstones:${keyPrefix}`;
}

export function isTombstone(stored: Uint8Array): boolean {
  return stored.length > 0 && stored[0] === TOMBSTONE_BYTE;
}

/** Server time in ms, and a fill's start in server time from ARGV[age], ARGV[startGuess] ("" unknown). */
const SERVER_NOW = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
const FILL_STARTED = (age: number, guess: number) => `
local started = now - tonumber(ARGV[${age}])
if ARGV[${guess}] ~= "" and tonumber(ARGV[${guess}]) < started then started = tonumber(ARGV[${guess}]) end
`;
/** Refuses (returns -3) when a prefix tombstone in the hash KEYS[hash] covers the key ARGV[key] and is not older than the load. */
const PREFIX_CHECK = (hash: number, key: number) => `
local p = redis.call("HGETALL", KEYS[${hash}])
for i = 1, #p, 2 do
  if tonumber(p[i + 1]) >= started and string.sub(ARGV[${key}], 1, #p[i]) == p[i] then return {-3, now} end
end
`;

/**
 * A conditional fill. KEYS: the entry, and (standalone only) the prefix-tombstone hash.
 * ARGV: payload, px ("0": none), age ms, start guess in server ms (""), window ms, this node's
 * now (for the expiry in an entry's header), the key without the namespace.
 * Returns {code, server now}: 1 stored; 0 a live entry is there; -1 the load is older than the
 * window; -2 a tombstone at or after the load's start; -3 a prefix tombstone likewise.
 */
export const CONDITIONAL_FILL = new Script(`${SERVER_NOW}${FILL_STARTED(3, 4)}
if now - started > tonumber(ARGV[5]) then return {-1, now} end
local h = redis.call("GETRANGE", KEYS[1], 0, 15)
local m = string.sub(h, 1, 1)
if m == "t" then
  local at = tonumber(string.sub(h, 2))
  if at == nil or at >= started then return {-2, now} end
elseif m == "z" then
  local expired = string.byte(h, 2) == 1 and #h >= 10 and struct.unpack("<d", string.sub(h, 3, 10)) <= tonumber(ARGV[6])
  if not expired then return {0, now} end
end
if #KEYS > 1 then
${PREFIX_CHECK(2, 7)}
end
if ARGV[2] == "0" then redis.call("SET", KEYS[1], ARGV[1]) else redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2]) end
return {1, now}
`);

/**
 * On a Cluster the prefix hash lives in another slot: checked first, on its own. KEYS: the hash.
 * ARGV: age, start guess, key without namespace. Returns {-3, now} when refused, {1, now} otherwise.
 */
export const PREFIX_TOMBSTONE_CHECK = new Script(`${SERVER_NOW}${FILL_STARTED(1, 2)}${PREFIX_CHECK(1, 3)}
return {1, now}
`);

/** Replaces an entry by its tombstone. KEYS: the entry. ARGV: window ms. Returns {1 if a live entry was there else 0, now}. */
export const DELETE_TO_TOMBSTONE = new Script(`${SERVER_NOW}
local h = redis.call("GETRANGE", KEYS[1], 0, 0)
redis.call("SET", KEYS[1], string.format("t%.0f", now), "PX", ARGV[1])
if h == "" or h == "t" then return {0, now} end
return {1, now}
`);

/** Records a prefix tombstone and prunes those past the window. KEYS: the hash. ARGV: prefix, window ms. Returns now. */
export const RECORD_PREFIX_TOMBSTONE = new Script(`${SERVER_NOW}
local p = redis.call("HGETALL", KEYS[1])
for i = 1, #p, 2 do
  if tonumber(p[i + 1]) < now - tonumber(ARGV[2]) then redis.call("HDEL", KEYS[1], p[i]) end
end
redis.call("HSET", KEYS[1], ARGV[1], string.format("%.0f", now))
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return now
`);

/** How long a sample of the server clock's offset is trusted before a fresh one replaces it, in ms. */
const OFFSET_SAMPLE_MS = 30_000;

/**
 * A conservative estimate of (server clock − this node's clock) from replies that carry the
 * server's time: a reply was computed before it arrived, so `server − arrival` is a lower bound
 * of the offset; the largest recent one is the tightest. Mapping a load's start with it never
 * makes the load look younger than it is, even when its fill sat in a queue (a paused Redis).
 */
export class ServerClock {
  private low: number | undefined;
  private sampledAt = 0;

  /** `serverNow`: the server's time in a reply received now. */
  sample(serverNow: unknown): void {
    const server = Number(serverNow);
    if (!Number.isFinite(server)) return;
    const now = Date.now();
    const bound = server - now;
    if (this.low === undefined || now - this.sampledAt > OFFSET_SAMPLE_MS || bound > this.low) {
      this.low = bound;
      this.sampledAt = now;
    }
  }

  /** A local time as a server time no later than the true one, or "" when no sample exists yet. */
  toServer(local: number): string {
    return this.low === undefined ? "" : String(Math.floor(local + this.low));
  }
}
