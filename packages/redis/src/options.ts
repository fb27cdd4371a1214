import { ZarrsCacheError, assertKnownOptions, assertTtl, configNumber } from "@zarrs-cache/core";
import { MAX_PX } from "./entry-format.js";
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from "ioredis";

export interface BreakerOptions {
  /** Consecutive failures (errors or timeouts) that open the breaker (default 5). */
  failures?: number;
  /** How long the breaker stays open before a half-open probe, in ms (default 2000). */
  cooldown?: number;
}

export interface BusOptions {
  /** Pub/sub channel (default `zarrs-cache:invalidate:<keyPrefix>`): nodes on the same channel invalidate each other. */
  channel?: string;
}

export interface SingleFlightOptions {
  /** How long a loader's lock lives, in ms (default 2000): longer than a typical upstream read. */
  lockTtl?: number;
  /** Longest a node waits for another node's load before loading itself, in ms (default: lockTtl). */
  wait?: number;
  /** Poll interval while waiting, in ms (default 25); a bus message wakes waiters sooner. */
  poll?: number;
}

/** Bookkeeping of writes whose Redis update failed (a partition); see the README, "Partitions". */
export interface RepairOptions {
  /** Keys remembered one by one (default 10000); past it they collapse into their longest common prefix. */
  maxKeys?: number;
  /** How often a pending repair is retried while Redis stays unreachable, in ms (default 250). */
  retryInterval?: number;
}

/**
 * Where Redis is: `url` (optionally with `connection` options), `connection` alone, `cluster` or
 * `client` (default redis://127.0.0.1:6379).
 */
export interface RedisTierOptions {
  /** A redis:// or rediss:// URL. */
  url?: string;
  /** ioredis options for a new standalone connection (host, port, password, tls, db…), alone or with `url`. */
  connection?: RedisOptions;
  /** Redis Cluster startup nodes; a new `Cluster` is created (see `clusterOptions`). */
  cluster?: ClusterNode[];
  /** Extra ioredis Cluster options when `cluster` is given. */
  clusterOptions?: ClusterOptions;
  /** An existing ioredis `Redis` or `Cluster`. The tier uses it but never closes it. */
  client?: Redis | Cluster;
  /** Namespace of every key this tier writes (default "zc:"). End it with a separator. */
  keyPrefix?: string;
  /** Default TTL in ms for entries set without one; omitted: no expiry. */
  ttl?: number;
  /** Longest wait for any one Redis command, in ms (default 500). */
  commandTimeout?: number;
  /** TCP connect timeout for connections this tier creates, in ms (default 2000). */
  connectTimeout?: number;
  /** Largest value accepted, in bytes (default 64 MiB). */
  maxValueBytes?: number;
  /**
   * How long a delete, prefix delete or clear leaves a tombstone, in ms (default 60000): a
   * read-through fill whose load began before the tombstone, or longer ago than this, is refused
   * (see the README, "Conditional fills"). Keep it above the TieredCache's `loadTimeout`.
   */
  tombstoneTtl?: number;
  /** Batch commands issued in the same tick into one write (ioredis enableAutoPipelining; default true). */
  autoPipelining?: boolean;
  /** Circuit breaker settings, or false to disable it. */
  breaker?: BreakerOptions | false;
  /** Invalidation bus over pub/sub (default on), or false to disable it. */
  bus?: BusOptions | boolean;
  /** Cross-process single-flight for misses (default off). */
  singleFlight?: SingleFlightOptions | boolean;
  /** Repair of writes that failed to reach Redis (always on; these options tune it). */
  repair?: RepairOptions;
  /** Name in stats and events (default "redis"). */
  name?: string;
}

export type ConnectionSource =
  | { kind: "url"; url: string; options: RedisOptions }
  | { kind: "options"; options: RedisOptions }
  | { kind: "cluster"; nodes: ClusterNode[]; options: ClusterOptions }
  | { kind: "client"; client: Redis | Cluster };

export interface ResolvedOptions {
  source: ConnectionSource;
  name: string;
  keyPrefix: string;
  ttl: number | undefined;
  commandTimeout: number;
  connectTimeout: number;
  maxValueBytes: number;
  tombstoneTtl: number;
  autoPipelining: boolean;
  breaker: Required<BreakerOptions> | false;
  bus: Required<BusOptions> | false;
  singleFlight: Required<SingleFlightOptions> | false;
  repair: Required<RepairOptions>;
}

const OWNER = "redis()";
/** Default tombstone lifetime: the TieredCache's default loadTimeout (30 s) with a wide margin. */
export const DEFAULT_TOMBSTONE_TTL = 60_000;
const KNOWN = new Set([
  "url",
  "connection",
  "cluster",
  "clusterOptions",
  "client",
  "keyPrefix",
  "ttl",
  "commandTimeout",
  "connectTimeout",
  "maxValueBytes",
  "tombstoneTtl",
  "autoPipelining",
  "breaker",
  "bus",
  "singleFlight",
  "repair",
  "name",
]);

function invalid(option: string, message: string): ZarrsCacheError {
  return new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: option "${option}" ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(option: string, value: Record<string, unknown>, allowed: string[]): void {
  assertKnownOptions(OWNER, value, allowed, `${option}.`);
}

function resolveSource(options: RedisTierOptions): ConnectionSource {
  const given = (["client", "cluster", "url", "connection"] as const).filter((k) => options[k] !== undefined);
  const clash = given.length > 1 && !(given.length === 2 && given[0] === "url" && given[1] === "connection");
  if (clash)
    throw invalid(given[1]!, `cannot be combined with "${given[0]}": give one of url (with optional connection), cluster or client`);
  if (options.clusterOptions !== undefined && options.cluster === undefined) throw invalid("clusterOptions", 'needs the "cluster" option');
  if (options.url !== undefined) {
    if (typeof options.url !== "string" || !/^rediss?:\/\/./.test(options.url)) {
      throw invalid("url", `must be a redis:// or rediss:// URL, got ${JSON.stringify(options.url)}`);
    }
    return { kind: "url", url: options.url, options: connectionOptions(options.connection) };
  }
  if (options.client !== undefined) {
    const client = options.client as unknown as Record<string, unknown>;
    if (!isObject(client) || typeof client.getBuffer !== "function" || typeof client.duplicate !== "function") {
      throw invalid("client", "must be an ioredis Redis or Cluster instance");
    }
    const prefix = (client.options as { keyPrefix?: string } | undefined)?.keyPrefix;
    if (prefix) throw invalid("client", `has ioredis keyPrefix "${prefix}": remove it and pass keyPrefix to redis() instead`);
    return { kind: "client", client: options.client };
  }
  if (options.cluster !== undefined) {
    if (!Array.isArray(options.cluster) || options.cluster.length === 0)
      throw invalid("cluster", "must be a non-empty array of nodes like { host, port }");
    for (const node of options.cluster) {
      const ok =
        typeof node === "string" ||
        (typeof node === "number" && Number.isInteger(node)) ||
        (isPlainObject(node) && (node.port === undefined || Number.isInteger(node.port)));
      if (!ok) throw invalid("cluster", `has a node that is not "host:port", a port or { host, port }`);
    }
    if (options.clusterOptions !== undefined && !isPlainObject(options.clusterOptions))
      throw invalid("clusterOptions", "must be an object");
    const clusterOptions = options.clusterOptions ?? {};
    if (
      (clusterOptions.redisOptions as { keyPrefix?: string } | undefined)?.keyPrefix ||
      (clusterOptions as { keyPrefix?: string }).keyPrefix
    ) {
      throw invalid("clusterOptions", "must not set ioredis keyPrefix: pass keyPrefix to redis() instead");
    }
    return { kind: "cluster", nodes: options.cluster, options: clusterOptions };
  }
  if (options.connection !== undefined) return { kind: "options", options: connectionOptions(options.connection) };
  return { kind: "options", options: { host: "127.0.0.1", port: 6379 } };
}

function connectionOptions(connection: unknown): RedisOptions {
  if (connection === undefined) return {};
  if (!isPlainObject(connection)) throw invalid("connection", "must be an object of ioredis options like { host, port }");
  if (connection.keyPrefix) throw invalid("connection.keyPrefix", "is not supported: pass keyPrefix to redis() instead");
  return connection as RedisOptions;
}

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null;
}

function positive(option: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  configNumber(OWNER, option, value, { min });
  return value as number;
}

function flag(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw invalid(option, `must be a boolean, got ${typeof value}`);
  return value;
}

/** Validates `redis()` options; every problem is an INVALID_CONFIG error naming the option. */
export function resolveOptions(options: RedisTierOptions | undefined): ResolvedOptions {
  if (options === undefined) options = {};
  if (!isObject(options) || Array.isArray(options)) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `${OWNER}: options must be an object like { url: "redis://127.0.0.1:6379", keyPrefix: "zc:" }`,
    );
  }
  assertKnownOptions(OWNER, options, [...KNOWN]);

  const keyPrefix = options.keyPrefix ?? "zc:";
  if (typeof keyPrefix !== "string" || keyPrefix.length === 0) {
    throw invalid("keyPrefix", "must be a non-empty string (clear() removes every key under it)");
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name.length === 0))
    throw invalid("name", "must be a non-empty string");
  try {
    assertTtl(options.ttl, `${OWNER}: option "ttl"`);
  } catch (error) {
    throw new ZarrsCacheError("INVALID_CONFIG", (error as Error).message);
  }

  const commandTimeout = positive("commandTimeout", options.commandTimeout, 500);
  const connectTimeout = positive("connectTimeout", options.connectTimeout, 2000);
  configNumber(OWNER, "maxValueBytes", options.maxValueBytes, { min: 0, integer: true, optional: true });
  configNumber(OWNER, "tombstoneTtl", options.tombstoneTtl, { min: 1, integer: true, optional: true });
  if (options.tombstoneTtl !== undefined && options.tombstoneTtl > MAX_PX) throw invalid("tombstoneTtl", `must be at most ${MAX_PX} ms`);

  let breaker: ResolvedOptions["breaker"] = { failures: 5, cooldown: 2000 };
  if (options.breaker === false) breaker = false;
  else if (options.breaker !== undefined) {
    if (!isPlainObject(options.breaker)) throw invalid("breaker", "must be an object like { failures: 5, cooldown: 2000 } or false");
    checkKeys("breaker", options.breaker, ["failures", "cooldown"]);
    configNumber(OWNER, "breaker.failures", options.breaker.failures, { min: 1, integer: true, optional: true });
    breaker = {
      failures: (options.breaker.failures as number | undefined) ?? 5,
      cooldown: positive("breaker.cooldown", options.breaker.cooldown, 2000),
    };
  }

  let bus: ResolvedOptions["bus"] = { channel: `zarrs-cache:invalidate:${keyPrefix}` };
  if (options.bus === false) bus = false;
  else if (options.bus !== undefined && options.bus !== true) {
    if (!isPlainObject(options.bus)) throw invalid("bus", "must be true, false or an object like { channel }");
    checkKeys("bus", options.bus, ["channel"]);
    if (options.bus.channel !== undefined) {
      if (typeof options.bus.channel !== "string" || options.bus.channel.length === 0)
        throw invalid("bus.channel", "must be a non-empty string");
      bus = { channel: options.bus.channel };
    }
  }

  let singleFlight: ResolvedOptions["singleFlight"] = false;
  if (options.singleFlight === true || isPlainObject(options.singleFlight)) {
    const sf = options.singleFlight === true ? {} : (options.singleFlight as Record<string, unknown>);
    checkKeys("singleFlight", sf, ["lockTtl", "wait", "poll"]);
    const lockTtl = positive("singleFlight.lockTtl", sf.lockTtl, 2000);
    // A lock must expire in Redis (PX); a fractional lockTtl is rounded up where it is used.
    if (lockTtl > MAX_PX) throw invalid("singleFlight.lockTtl", `must be at most ${MAX_PX} ms, got ${lockTtl}`);
    singleFlight = { lockTtl, wait: positive("singleFlight.wait", sf.wait, lockTtl), poll: positive("singleFlight.poll", sf.poll, 25) };
  } else if (options.singleFlight !== undefined && options.singleFlight !== false) {
    throw invalid("singleFlight", "must be true, false or an object like { lockTtl, wait, poll }");
  }

  let repair: ResolvedOptions["repair"] = { maxKeys: 10_000, retryInterval: 250 };
  if (options.repair !== undefined) {
    if (!isPlainObject(options.repair)) throw invalid("repair", "must be an object like { maxKeys: 10000, retryInterval: 250 }");
    checkKeys("repair", options.repair, ["maxKeys", "retryInterval"]);
    configNumber(OWNER, "repair.maxKeys", options.repair.maxKeys, { min: 1, integer: true, optional: true });
    repair = {
      maxKeys: (options.repair.maxKeys as number | undefined) ?? repair.maxKeys,
      retryInterval: positive("repair.retryInterval", options.repair.retryInterval, repair.retryInterval),
    };
  }

  return {
    source: resolveSource(options),
    name: options.name ?? "redis",
    keyPrefix,
    ttl: options.ttl,
    commandTimeout,
    connectTimeout,
    maxValueBytes: options.maxValueBytes ?? 64 * 1024 * 1024,
    tombstoneTtl: options.tombstoneTtl ?? DEFAULT_TOMBSTONE_TTL,
    autoPipelining: flag("autoPipelining", options.autoPipelining, true),
    breaker,
    bus,
    singleFlight,
    repair,
  };
}
