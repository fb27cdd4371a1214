import { TEST_REDIS_PORT, TEST_REDIS_URL, redisReachable } from "@zarrs-cache/core/test-utils";
import { it } from "vitest";

/** Redis on loopback (core's test-utils: ZC_TEST_REDIS_PORT points the tests at another local port). */
export const REDIS_PORT = TEST_REDIS_PORT;
export const REDIS_URL = TEST_REDIS_URL;
export { redisReachable };

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
    console.warn(
      `\n!!! SKIPPED ${what}: Redis on 127.0.0.1:${REDIS_PORT} is unreachable (start one, or these tests fail when CI is set) !!!\n`,
    );
    it.skip(`${what} (Redis unreachable)`, () => {});
  }
}

/** A namespace no other test run uses. */
export function uniqueNamespace(label: string): string {
  return `zc-keyv-test-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
