import type { Redis } from "ioredis";
import { isCluster } from "./connect.js";
import type { CommandRunner, RedisClient } from "./runner.js";

const SCAN_COUNT = 1000;

/** Escapes glob characters so that a prefix matches only itself in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/**
 * The connections to SCAN: every master of a Cluster, or the one server. Goes through the runner
 * so that an unreachable Cluster (no masters known yet) fails like any other call.
 */
function scanTargets(runner: CommandRunner, client: RedisClient): Promise<Redis[]> {
  if (!isCluster(client)) return Promise.resolve([client]);
  return runner.run("scan", async () => {
    const masters = client.nodes("master");
    if (masters.length === 0) throw new Error("no Redis Cluster master is known yet");
    return masters;
  });
}

/** Batches of full Redis keys starting with `fullPrefix`, from every master. Never FLUSHDB. */
export async function* scanBatches(
  runner: CommandRunner,
  client: RedisClient,
  fullPrefix: string,
): AsyncGenerator<{ node: Redis; keys: string[] }> {
  const pattern = `${globEscape(fullPrefix)}*`;
  for (const node of await scanTargets(runner, client)) {
    let cursor = "0";
    do {
      const [next, keys] = await runner.run("scan", () => node.scan(cursor, "MATCH", pattern, "COUNT", SCAN_COUNT));
      cursor = next;
      if (keys.length > 0) yield { node, keys };
    } while (cursor !== "0");
  }
}

/**
 * UNLINKs (non-blocking delete) a batch found on `node`; returns how many existed. On a Cluster
 * keys of one node may still live in different slots, so each key is its own command, pipelined.
 */
export async function unlinkBatch(runner: CommandRunner, client: RedisClient, node: Redis, keys: string[]): Promise<number> {
  if (!isCluster(client)) return runner.run("unlink", () => node.unlink(...keys));
  const results = await runner.run("unlink", () => node.pipeline(keys.map((key) => ["unlink", key])).exec());
  let removed = 0;
  for (const [error, count] of results ?? []) if (!error) removed += Number(count);
  return removed;
}
