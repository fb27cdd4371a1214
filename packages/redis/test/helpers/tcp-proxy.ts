/**
 * A TCP proxy in front of a Redis port whose link can be cut and healed, to stage a network
 * partition between one node and Redis while other nodes keep their direct connections.
 *
 * - "refuse": every open connection is destroyed and new ones are closed at once (a peer that
 *   resets connections, a Redis restart seen from one node).
 * - "blackhole": connections stay open but nothing moves either way, new connections are
 *   accepted and held (packets dropped by the network). On heal everything held is delivered in
 *   order, as TCP would after retransmission: commands sent during the cut may still land late.
 */
import net from "node:net";

export type CutMode = "refuse" | "blackhole";

export interface TcpProxy {
  port: number;
  url: string;
  cut(mode: CutMode): void;
  heal(): void;
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket | undefined;
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const links = new Set<Link>();
  let mode: CutMode | undefined;

  const drop = (link: Link) => {
    links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  };

  const connectUpstream = (link: Link) => {
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    link.upstream = upstream;
    upstream.on("data", (data) => link.client.write(data));
    link.client.on("data", (data) => upstream.write(data));
    upstream.on("error", () => drop(link));
    upstream.on("close", () => drop(link));
    link.client.resume();
  };

  const server = net.createServer((client) => {
    if (mode === "refuse") {
      client.destroy();
      return;
    }
    const link: Link = { client, upstream: undefined };
    links.add(link);
    client.pause();
    client.on("error", () => drop(link));
    client.on("close", () => drop(link));
    if (mode === undefined) connectUpstream(link);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut(next) {
      mode = next;
      for (const link of [...links]) {
        if (next === "refuse") drop(link);
        else {
          link.client.pause();
          link.upstream?.pause();
        }
      }
    },
    heal() {
      mode = undefined;
      for (const link of links) {
        if (link.upstream === undefined) connectUpstream(link);
        else {
          link.client.resume();
          link.upstream.resume();
        }
      }
    },
    async close() {
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
