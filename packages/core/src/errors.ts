/**
 * Every error zarrs-cache throws is a ZarrsCacheError with a stable `code`.
 * The brand is a global symbol, so `isZarrsCacheError` works even when two copies of
 * this package are loaded (a bundler duplicate, a tier compiled against another version).
 */
const BRAND = Symbol.for("zarrs-cache.error");

export type ZarrsCacheErrorCode =
  /** An argument had the wrong type or an out-of-range value. */
  | "INVALID_ARGUMENT"
  /** The cache or tier configuration is invalid (reported by factories and `build()`). */
  | "INVALID_CONFIG"
  /** A key is empty, not a string, or longer than the tier allows. */
  | "INVALID_KEY"
  /** A value is not a Uint8Array or is larger than the tier allows. */
  | "VALUE_TOO_LARGE"
  /** The cache or tier was used after `close()`. */
  | "CLOSED"
  /** A tier's backing service could not be reached or answered too slowly. */
  | "TIER_UNAVAILABLE"
  /** An operation took longer than its configured timeout. */
  | "TIMEOUT"
  /** A stored value failed its integrity check. */
  | "CORRUPT_ENTRY"
  /** A storage I/O error (disk full, permission denied, …). */
  | "IO_ERROR"
  /** The upstream store (the loader) failed. */
  | "UPSTREAM_ERROR"
  /** The caller's AbortSignal fired. */
  | "ABORTED"
  /** The tier cannot do this operation at all (e.g. list keys of a store that has no iterator). */
  | "UNSUPPORTED";

export class ZarrsCacheError extends Error {
  readonly code: ZarrsCacheErrorCode;
  declare readonly cause?: unknown;

  constructor(code: ZarrsCacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ZarrsCacheError";
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True for any ZarrsCacheError, from this copy of the package or another. */
export function isZarrsCacheError(value: unknown, code?: ZarrsCacheErrorCode): value is ZarrsCacheError {
  if (typeof value !== "object" || value === null || (value as Record<symbol, unknown>)[BRAND] !== true) {
    return false;
  }
  return code === undefined || (value as ZarrsCacheError).code === code;
}
