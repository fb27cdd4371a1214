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
  const started = (options as SetOptions).loadStartedAt;
  if (started !== undefined && (typeof started !== "number" || !Number.isFinite(started) || started < 0)) {
    const got = describe(started);
    throw new ZarrsCacheError("INVALID_ARGUMENT", `set option "loadStartedAt" must be a time in ms since the epoch, got ${got}`);
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

/**
 * Refuses option names outside `known` with INVALID_CONFIG naming the option, and a
 * "did you mean" when a known name is close (a typo such as `maxbytes` or `namspace`).
 * `options` must already be checked to be an object. `path` prefixes nested names ("ttl.").
 */
export function assertKnownOptions(owner: string, options: object, known: readonly string[], path = ""): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const close = closestName(name, known);
    const hint = close === undefined ? "" : ` — did you mean "${path}${close}"?`;
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `${owner}: unknown option "${path}${name}"${hint} (known: ${known.map((k) => path + k).join(", ")})`,
    );
  }
}

/** The known name nearest to `name` (case-insensitive edit distance ≤ 2, or a case-only difference). */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = name.toLowerCase();
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.min(2, Math.max(1, Math.floor(name.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

/** Levenshtein distance; option names are short, so the quadratic table is fine. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
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
