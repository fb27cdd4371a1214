import net from "node:net";
import { it } from "vitest";

/** Redis on loopback; ZC_TEST_REDIS_PORT points the tests at another local port. */
export const REDIS_PORT = Number(process.env.ZC_TEST_REDIS_PORT ?? 6379);
export const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;

/** True when a Redis server answers PING on 127.0.0.1:REDIS_PORT within a second. */
export function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(REDIS_PORT, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/**
 * Registers the Redis-backed tests when Redis answers; otherwise, in CI (env CI set) a failing
 * test, and on a developer machine a loud warning and no tests.
 */
export function whenRedis(reachable: boolean, what: string, register: () => void): void {
  if (reachable) {
    register();
  } else if (process.env.CI) {
    it(`${what}: needs Redis on 127.0.0.1:${REDIS_PORT}`, () => {
      throw new Error(`Redis on 127.0.0.1:${REDIS_PORT} is unreachable, and CI is set: ${what} must run in CI`);
    });
  } else {
    console.warn(`\n!!! SKIPPED ${what}: Redis on 127.0.0.1:${REDIS_PORT} is unreachable (start one, or these tests fail when CI is set) !!!\n`);
    it.skip(`${what} (Redis unreachable)`, () => {});
  }
}

/** A namespace no other test run uses. */
export function uniqueNamespace(label: string): string {
  return `zc-keyv-test-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
