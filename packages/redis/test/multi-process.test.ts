import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SHARED_URL, describeRedis, removeKeys, testPrefix } from "./helpers/redis-servers.js";

const worker = fileURLToPath(new URL("./fixtures/node-worker.mjs", import.meta.url));
const builtFiles = ["../../core/dist/index.js", "../../memory/dist/index.js", "../dist/index.js"].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

interface Node {
  child: ChildProcess;
  call(op: string, args?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

function startNode(keyPrefix: string): Promise<Node> {
  const child = fork(worker, {
    env: { ...process.env, REDIS_URL: SHARED_URL, KEY_PREFIX: keyPrefix },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let next = 0;
  const pending = new Map<number, (message: { ok: boolean; result?: Record<string, unknown>; error?: string }) => void>();
  child.on("message", (message: { id?: number }) => {
    if (message.id !== undefined) pending.get(message.id)?.(message as never);
  });
  const node: Node = {
    child,
    call(op, args = {}) {
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${child.pid}: ${op} got no answer in 10 s`)), 10_000);
        pending.set(id, (message) => {
          clearTimeout(timer);
          pending.delete(id);
          if (message.ok) resolve(message.result!);
          else reject(new Error(message.error));
        });
        child.send({ id, op, ...args });
      });
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("worker did not start in 15 s")), 15_000);
    child.once("exit", (code) => reject(new Error(`worker exited with ${code}`)));
    child.once("message", (message: { ready?: boolean }) => {
      clearTimeout(timer);
      if (message.ready) resolve(node);
      else reject(new Error("worker could not subscribe to the bus"));
    });
  });
}

const prefix = testPrefix("multi-process");
let nodes: Node[] = [];

describeRedis("several processes sharing one Redis with the invalidation bus", { shared: true }, () => {
  beforeAll(async () => {
    const missing = builtFiles.filter((file) => !fs.existsSync(file));
    if (missing.length > 0) {
      throw new Error(
        `build first (npx turbo run build --filter=@zarrs-cache/redis... --filter=@zarrs-cache/memory): missing ${missing.join(", ")}`,
      );
    }
    nodes = await Promise.all([0, 1, 2].map(() => startNode(prefix)));
  });
  afterAll(async () => {
    await Promise.allSettled(nodes.map((node) => node.call("close")));
    for (const node of nodes) if (node.child.exitCode === null) node.child.kill("SIGKILL");
    await removeKeys(prefix);
  });

  it("a write on one process is read by the others, and their stale L1 copies are gone within 100 ms", async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    await a.call("set", { key: "arr/zarr.json", byte: 1 });
    for (const other of [b, c]) {
      expect((await other.call("get", { key: "arr/zarr.json" })).byte).toBe(1);
      expect((await other.call("peek", { key: "arr/zarr.json" })).byte).toBe(1);
    }

    const watches = [b, c].map((other) => other.call("watch", { key: "arr/zarr.json" }));
    const { at } = await a.call("set", { key: "arr/zarr.json", byte: 2 });
    for (const { goneAt } of await Promise.all(watches)) {
      expect(goneAt).not.toBeNull();
      expect(Math.abs((goneAt as number) - (at as number))).toBeLessThan(100);
    }
    expect((await b.call("get", { key: "arr/zarr.json" })).byte).toBe(2);
    expect((await c.call("peek", { key: "arr/zarr.json" })).byte).toBeNull();
  });

  it("deletes and prefix invalidations from one process reach the others", async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    for (const key of ["arr/c/0", "arr/c/1", "keep"]) await a.call("set", { key, byte: 5 });
    for (const key of ["arr/c/0", "arr/c/1", "keep"]) expect((await b.call("get", { key })).byte).toBe(5);

    const gone = b.call("watch", { key: "arr/c/0" });
    await c.call("invalidate", { prefix: "arr/" });
    expect((await gone).goneAt).not.toBeNull();
    expect((await b.call("peek", { key: "arr/c/1" })).byte).toBeNull();
    expect((await b.call("peek", { key: "keep" })).byte).toBe(5);

    const deleted = b.call("watch", { key: "keep" });
    await a.call("delete", { key: "keep" });
    expect((await deleted).goneAt).not.toBeNull();
    expect((await b.call("get", { key: "keep" })).byte).toBeNull();

    const stats = await b.call("stats");
    expect(stats.received as number).toBeGreaterThan(0);
    expect(stats.errors).toBe(0);
  });
});
