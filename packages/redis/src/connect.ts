import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { ResolvedOptions } from "./options.js";
import type { RedisClient } from "./runner.js";

/**
 * Reconnect quickly at first, then every 500 ms: a node that wrote during a partition repairs
 * Redis as soon as it is back (see the README, "Partitions"); never give up (the breaker guards callers).
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 500);
}

/**
 * Options that make a connection fail fast: no offline queue (a command sent while disconnected
 * fails at once instead of waiting in an unbounded queue), no retries of commands in flight when
 * a connection drops, no resend after reconnect.
 */
function failFast(options: ResolvedOptions): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: options.connectTimeout,
    retryStrategy: reconnectDelay,
  };
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** The main client and whether this tier owns (and so closes) it. */
export function createClient(options: ResolvedOptions): { client: RedisClient; owned: boolean } {
  const source = options.source;
  // MGET is a batch already: auto-pipelining it only makes concurrent batches wait for each other.
  const autoPipelining = { enableAutoPipelining: options.autoPipelining, autoPipeliningIgnoredCommands: ["mget"] };
  switch (source.kind) {
    case "client":
      return { client: source.client, owned: false };
    case "url":
      return { client: new Redis(source.url, { ...source.options, ...failFast(options), ...autoPipelining }), owned: true };
    case "options":
      return { client: new Redis({ ...source.options, ...failFast(options), ...autoPipelining }), owned: true };
    case "cluster": {
      const { retryStrategy: _ignored, enableOfflineQueue: _queue, ...nodeOptions } = failFast(options);
      const client = new Cluster(source.nodes, {
        clusterRetryStrategy: reconnectDelay,
        ...source.options,
        enableOfflineQueue: false,
        ...autoPipelining,
        redisOptions: { ...source.options.redisOptions, ...nodeOptions },
      });
      return { client, owned: true };
    }
  }
}

/**
 * A plain connection for SUBSCRIBE. On a Cluster, a PUBLISH reaches every node, so subscribing on
 * any one master is enough; `attempt` rotates through the masters when one stays unreachable.
 * Reconnection is left to the caller (retryStrategy off) so that it sees every loss.
 */
export function createSubscriber(client: RedisClient, attempt: number, connectTimeout: number): Redis | undefined {
  const overrides: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    enableAutoPipelining: false,
    retryStrategy: () => null,
    lazyConnect: false,
    connectTimeout,
  };
  if (!isCluster(client)) return client.duplicate(overrides);
  const masters = client.nodes("master");
  const pool = masters.length > 0 ? masters : client.nodes("all");
  // No node known yet (the cluster has not connected): the caller tries again later.
  if (pool.length === 0) return undefined;
  const node = pool[attempt % pool.length]!;
  return new Redis({ ...client.options.redisOptions, host: node.options.host, port: node.options.port, ...overrides });
}

/** Closes a connection this tier owns: a polite QUIT when connected (bounded), else at once. */
export async function closeClient(client: RedisClient, timeout: number): Promise<void> {
  if (client.status === "ready") {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeout);
      }),
    ]);
    clearTimeout(timer);
  }
  client.disconnect();
}
