/**
 * Test helpers: the shared Redis on 127.0.0.1:6379 (never flushed: tests use their own random
 * prefixes and remove their keys), and private redis-server processes on free ports, standalone
 * or as a 3-master Cluster, stopped by PID.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { TEST_REDIS_PORT, TEST_REDIS_URL, redisReachable } from "@zarrs-cache/core/test-utils";
import { Redis } from "ioredis";
import { describe, it } from "vitest";

/** The shared server: 127.0.0.1:6379 (ZC_TEST_REDIS_PORT overrides the port; see core's test-utils). */
export const SHARED_PORT = TEST_REDIS_PORT;
export const SHARED_URL = TEST_REDIS_URL;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends PING over a raw socket; true on +PONG within `timeout` ms. */
export function ping(port: number, timeout = 500): Promise<boolean> {
  return redisReachable(port, timeout);
}

const sharedAvailable = await ping(SHARED_PORT);
const serverBinary = spawnSync("redis-server", ["--version"]).status === 0;

/**
 * describe() that needs Redis. When it is missing: under CI the suite FAILS (one failing test
 * naming what is missing); on a developer machine it is skipped with a loud message.
 */
export function describeRedis(name: string, needs: { shared?: boolean; spawn?: boolean }, body: () => void): void {
  const missing: string[] = [];
  if (needs.shared && !sharedAvailable) missing.push(`a Redis server on 127.0.0.1:${SHARED_PORT}`);
  if (needs.spawn && !serverBinary) missing.push("the redis-server binary on PATH");
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const message = `${name} needs ${missing.join(" and ")}`;
  if (process.env.CI) {
    describe(name, () =>
      it("has the Redis it needs", () => {
        throw new Error(`${message} (CI is set, so this fails instead of skipping)`);
      }),
    );
    return;
  }
  console.warn(`\n!!!!!!!! SKIPPED: ${message}. Start one to run these tests. !!!!!!!!\n`);
  describe.skip(name, body);
}

export function testPrefix(label: string): string {
  return `zc-test:${label}:${randomUUID()}:`;
}

/** Removes every key under `prefix` from the shared Redis (SCAN + UNLINK, never FLUSHDB). */
export async function removeKeys(prefix: string, port = SHARED_PORT): Promise<void> {
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A free port below 55536 whose cluster bus port (port + 10000) is free too. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 35000);
    if ((await portIsFree(port)) && (await portIsFree(port + 10000))) return port;
  }
  throw new Error("no free port found in 50 attempts");
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface RedisProcess {
  port: number;
  pid: number;
  url: string;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** SIGSTOP: the server stops answering but keeps its connections (a hung Redis). */
  pause(): void;
  resume(): void;
}

/** Starts `redis-server` on `port` (a free one by default) and waits until it answers PING. */
export async function startRedis(options: { port?: number; cluster?: boolean; dir?: string } = {}): Promise<RedisProcess> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "zc-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"];
  if (options.cluster)
    args.push("--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "2000");
  const child = spawn("redis-server", args, { stdio: "ignore" });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => running.delete(child));
  const deadline = Date.now() + 5000;
  while (!(await ping(port, 200))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`redis-server on port ${port} did not start`);
    }
    await sleep(20);
  }
  return {
    port,
    pid: child.pid!,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid!, "SIGCONT");
      process.kill(child.pid!, "SIGKILL");
      await exited;
    },
    pause: () => process.kill(child.pid!, "SIGSTOP"),
    resume: () => process.kill(child.pid!, "SIGCONT"),
  };
}

export interface TestCluster {
  nodes: RedisProcess[];
  startupNodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** Three masters with the 16384 slots split between them, joined with CLUSTER MEET. */
export async function startCluster(): Promise<TestCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-cluster-"));
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startRedis({ cluster: true, dir }));
    const admins = nodes.map((node) => new Redis({ port: node.port, host: "127.0.0.1" }));
    try {
      const ranges = [
        [0, 5460],
        [5461, 10922],
        [10923, 16383],
      ] as const;
      await Promise.all(admins.map((admin, i) => admin.call("CLUSTER", "ADDSLOTSRANGE", ranges[i]![0], ranges[i]![1])));
      for (const node of nodes.slice(1)) await admins[0]!.call("CLUSTER", "MEET", "127.0.0.1", node.port);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const infos = await Promise.all(admins.map((admin) => admin.call("CLUSTER", "INFO") as Promise<string>));
        if (infos.every((info) => info.includes("cluster_state:ok") && info.includes("cluster_known_nodes:3"))) break;
        if (Date.now() > deadline) throw new Error(`cluster did not become ready: ${infos.join(" | ")}`);
        await sleep(50);
      }
    } finally {
      for (const admin of admins) admin.disconnect();
    }
  } catch (error) {
    await Promise.all(nodes.map((node) => node.kill()));
    throw error;
  }
  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
    async stop() {
      await Promise.all(nodes.map((node) => node.kill()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
