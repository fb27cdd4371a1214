import { ZarrsCacheError } from "./errors.js";
import type { SetOptions } from "./types.js";

/** Checks a key: a non-empty string no longer than `maxLength` UTF-16 code units. */
export function assertKey(key: unknown, maxLength = Number.POSITIVE_INFINITY): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new ZarrsCacheError("INVALID_KEY", `key must be a non-empty string, got ${describe(key)}`);
  }
  if (key.length > maxLength) {
    throw new ZarrsCacheError("INVALID_KEY", `key is ${key.length} characters long; this tier allows at most ${maxLength}`);
  }
}

/** Checks a value: a Uint8Array (Buffer included) no larger than `maxBytes`. */
export function assertValue(value: unknown, maxBytes = Number.POSITIVE_INFINITY): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `value must be a Uint8Array, got ${describe(value)}`);
  }
  if (value.byteLength > maxBytes) {
    throw new ZarrsCacheError("VALUE_TOO_LARGE", `value is ${value.byteLength} bytes; this tier allows at most ${maxBytes}`);
  }
}

/** Checks an optional TTL in ms: undefined, or a positive finite number. */
export function assertTtl(ttl: unknown, what = "ttl"): asserts ttl is number | undefined {
  if (ttl === undefined) return;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `${what} must be a positive number of milliseconds, got ${describe(ttl)}`);
  }
}

export function assertSetOptions(options: unknown): asserts options is SetOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null) {
    throw new ZarrsCacheError("INVALID_ARGUMENT", `set options must be an object, got ${describe(options)}`);
  }
  assertTtl((options as SetOptions).ttl);
  for (const flag of ["transfer", "fill"] as const) {
    const value = (options as SetOptions)[flag];
    if (value !== undefined && typeof value !== "boolean") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `set option "${flag}" must be a boolean, got ${describe(value)}`);
    }
  }
}

/** Checks a numeric config option; throws INVALID_CONFIG naming it. */
export function configNumber(
  owner: string,
  name: string,
  value: unknown,
  { min = 0, integer = false, optional = false }: { min?: number; integer?: boolean; optional?: boolean } = {},
): void {
  if (value === undefined && optional) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `${owner}: option "${name}" must be ${integer ? "an integer" : "a number"} >= ${min}, got ${describe(value)}`,
    );
  }
}

/** Remaining TTL in ms for an absolute expiry, or undefined for none; 0 means already expired. */
export function remainingTtl(expiresAt: number | undefined, now = Date.now()): number | undefined {
  if (expiresAt === undefined) return undefined;
  return Math.max(0, expiresAt - now);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  return typeof value;
}
