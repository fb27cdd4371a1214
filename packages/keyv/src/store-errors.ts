import { ZarrsCacheError } from "@zarrs-cache/core";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const UNAVAILABLE_MESSAGE = /not connected|connection|connect |socket|closed|offline|unreachable|timed out/i;

/** True when a store error says the backing service is gone, rather than an I/O failure. */
function looksUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  return UNAVAILABLE_MESSAGE.test(`${typeof name === "string" ? name : ""} ${typeof message === "string" ? message : ""}`);
}

/** A Redis reply saying the key holds another type: someone else's data, not a failure. */
export function isWrongType(error: unknown): boolean {
  return typeof error === "object" && error !== null && /^WRONGTYPE/.test(String((error as { message?: unknown }).message));
}

/** Classifies an error from Keyv or its store as TIER_UNAVAILABLE or IO_ERROR (the guard's `classify`). */
export function storeError(tier: string, operation: string, error: unknown): ZarrsCacheError {
  const detail = error instanceof Error ? error.message : String(error);
  const code = looksUnavailable(error) ? "TIER_UNAVAILABLE" : "IO_ERROR";
  return new ZarrsCacheError(code, `keyv tier "${tier}": ${operation} failed: ${detail}`, { cause: error });
}
