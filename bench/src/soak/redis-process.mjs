// The soak's own redis-server on a free port (never the shared 127.0.0.1:6379), which it can
// pause (SIGSTOP), kill (SIGKILL) and restart on the same port; and a TCP proxy per node between
// that node's processes and Redis, which can cut the node off (a network partition: the
// connections through it are dropped and new ones refused, while Redis keeps its data).
import { spawn } from "node:child_process";
import net from "node:net";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** PING over a raw socket: true on +PONG within `timeout` ms. */
export function ping(port, timeout = 300) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeout, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 35000);
    if (port !== 6379 && (await portIsFree(port))) return port;
  }
  throw new Error("no free port found in 50 attempts");
}

/** A redis-server of our own. `restart()` starts a new process on the same port (empty: no persistence). */
export async function startRedisServer({ dir }) {
  const port = await freePort();
  let child;
  let exited;
  const launch = async () => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"];
    child = spawn("redis-server", args, { stdio: "ignore" });
    exited = new Promise((resolve) => child.once("exit", resolve));
    const deadline = Date.now() + 5000;
    while (!(await ping(port, 200))) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not start`);
      }
      await sleep(20);
    }
  };
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(child.pid, "SIGCONT");
    process.kill(child.pid, "SIGKILL");
    await exited;
  };
  await launch();
  process.on("exit", () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, "SIGCONT");
      process.kill(child.pid, "SIGKILL");
    }
  });
  return {
    port,
    get pid() {
      return child.pid;
    },
    pause: () => process.kill(child.pid, "SIGSTOP"),
    resume: () => process.kill(child.pid, "SIGCONT"),
    kill,
    restart: launch,
    /** Waits until the server answers PING (bounded). */
    async answering(ms = 5000) {
      const deadline = Date.now() + ms;
      while (!(await ping(port, 200))) {
        if (Date.now() > deadline) return false;
        await sleep(10);
      }
      return true;
    },
    stop: kill,
  };
}

/**
 * A TCP proxy to 127.0.0.1:`targetPort` that can be cut and healed. A cut is a black hole, as a
 * real partition is: connections stay open but nothing gets through either way (commands time
 * out), new connections are accepted and hear nothing. On healing the black-holed connections
 * are reset (their streams lost bytes) and new ones go through again.
 */
export async function startProxy(targetPort) {
  const live = new Set();
  const holed = new Set();
  let cut = false;
  const blackHole = (socket) => {
    holed.add(socket);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => holed.delete(socket));
  };
  const server = net.createServer((client) => {
    if (cut) return blackHole(client);
    const target = net.connect({ host: "127.0.0.1", port: targetPort });
    const pair = { client, target };
    live.add(pair);
    const close = () => {
      if (!live.delete(pair)) return;
      client.destroy();
      target.destroy();
    };
    client.on("error", close).on("close", close);
    target.on("error", close).on("close", close);
    client.pipe(target);
    target.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    cut() {
      cut = true;
      for (const pair of live) {
        pair.client.unpipe(pair.target);
        pair.target.unpipe(pair.client);
        pair.target.destroy();
        blackHole(pair.client);
      }
      live.clear();
    },
    heal() {
      cut = false;
      for (const socket of holed) socket.destroy();
      holed.clear();
    },
    async close() {
      for (const pair of live) {
        pair.client.destroy();
        pair.target.destroy();
      }
      live.clear();
      this.heal();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
