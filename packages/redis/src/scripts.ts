import { createHash } from "node:crypto";
import type { RedisClient } from "./runner.js";

/**
 * A one-key Lua script, sent as EVALSHA (only the digest travels) and, when the server does not
 * know it yet (first use, restart, SCRIPT FLUSH), as EVAL, which also caches it. One key, so on a
 * Cluster it runs on the node owning that key's slot.
 */
export class OneKeyScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  run(client: RedisClient, key: string, arg: string | Buffer): Promise<unknown> {
    return client.evalsha(this.sha, 1, key, arg).catch((error: unknown) => {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      return client.eval(this.source, 1, key, arg);
    });
  }
}

/** Deletes a single-flight lock only if it still holds our token (it may have expired and been taken by another node). */
export const RELEASE_LOCK = new OneKeyScript(
  'if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0',
);

/**
 * Deletes an entry only if it still starts with the given header (marker, flag, expiry): an
 * expired entry goes, a newer value written meanwhile (another expiry) stays. GETRANGE reads
 * just the header, however large the value.
 */
export const DELETE_IF_HEADER = new OneKeyScript(
  'if redis.call("GETRANGE", KEYS[1], 0, string.len(ARGV[1]) - 1) == ARGV[1] then return redis.call("UNLINK", KEYS[1]) end return 0',
);

/**
 * A Lua script over any number of keys (all in one slot on a Cluster), sent as EVALSHA and, when
 * the server does not know it yet, as EVAL.
 */
export class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  run(client: RedisClient, keys: readonly string[], args: readonly (string | Buffer | number)[]): Promise<unknown> {
    return client.evalsha(this.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    });
  }
}
