/**
 * The one cache key encoding: a namespace (one dataset), a path inside it and an optional byte
 * range become one string that no other (namespace, path, range) gives.
 *
 *   zc1|<namespace>|<path>                        the whole value
 *   zc1|<namespace>|<path>\0r<offset>+<length>    bytes [offset, offset + length)
 *   zc1|<namespace>|<path>\0r-<suffixLength>      the last suffixLength bytes
 *
 * - `zc1` is the format version. No key of this format contains ":", and every key of the
 *   unversioned format before it (`namespace:path`) did, so an old entry left in a disk or Redis
 *   tier is never read back as a new one.
 * - The namespace is percent-escaped (`%`, `:`, `|`, control characters as `%XX`, lone
 *   surrogates as `%uXXXX`): it never contains "|", so the first "|" after `zc1|` ends it and
 *   all keys of a namespace, and only those, start with `zc1|<namespace>|`.
 * - The path is kept as it is unless it holds NUL, ":" or a lone surrogate; those become
 *   `\0n`, `\0c` and `\0uXXXX`. An escaped path never contains `\0r`, so the range keys of a
 *   path, and only those, start with `zc1|<namespace>|<path>\0r`.
 * - No key holds a lone surrogate, so tiers that store keys as UTF-8 (Redis, Keyv) cannot
 *   merge two keys into one.
 */
import { ZarrsCacheError } from "./errors.js";
import { describe } from "./validate.js";

/** The format tag every key starts with (bumped when the encoding changes). */
export const CACHE_KEY_FORMAT = "zc1";

/** A byte range: `{ offset, length }`, or `{ suffixLength }` for the last bytes. Same shape as zarrita's RangeQuery. */
export type KeyRange = { offset: number; length: number } | { suffixLength: number };

export interface ParsedCacheKey {
  namespace: string;
  path: string;
  range?: KeyRange;
}

const RANGE_MARK = "\u0000r";
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const NAMESPACE_SPECIAL = new RegExp(`[\\u0000-\\u001f\\u007f%:|]|${LONE_SURROGATE.source}`, "g");
const PATH_SPECIAL = new RegExp(`[\\u0000:]|${LONE_SURROGATE.source}`, "g");
const NAMESPACE_ESCAPE = /%(?:([0-9A-F]{2})|u([0-9A-F]{4}))/g;
const PATH_ESCAPE = /\u0000(n|c|u[0-9A-F]{4})?/g;
const EXACT_RANGE = /^(0|[1-9]\d*)\+(0|[1-9]\d*)$/;
const SUFFIX_RANGE = /^-(0|[1-9]\d*)$/;

const nativeWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
/** True when `s` has no lone surrogate (String#isWellFormed, a regex where it is missing). */
const isWellFormed: (s: string) => boolean = nativeWellFormed ? (s) => nativeWellFormed.call(s) : (s) => !LONE_SURROGATE.test(s);

const hex = (code: number, digits: number) => code.toString(16).toUpperCase().padStart(digits, "0");

function escapeNamespace(namespace: string): string {
  return namespace.replace(NAMESPACE_SPECIAL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `%${hex(code, 2)}` : `%u${hex(code, 4)}`;
  });
}

/** True when a path (or a key) needs no escaping: no NUL, ":" or lone surrogate. Three native scans. */
function isPlain(path: string): boolean {
  return path.indexOf("\u0000") === -1 && path.indexOf(":") === -1 && isWellFormed(path);
}

function escapePath(path: string): string {
  if (typeof path !== "string") throw new ZarrsCacheError("INVALID_KEY", `a path must be a string, got ${describe(path)}`);
  return path.replace(PATH_SPECIAL, (c) => (c === "\u0000" ? "\u0000n" : c === ":" ? "\u0000c" : `\u0000u${hex(c.charCodeAt(0), 4)}`));
}

function unescapePath(encoded: string): string | undefined {
  let valid = true;
  const path = encoded.replace(PATH_ESCAPE, (_, escape: string | undefined) => {
    if (escape === undefined) valid = false; // a NUL that starts no escape we write
    return escape === "n" ? "\u0000" : escape === "c" ? ":" : String.fromCharCode(Number.parseInt(escape?.slice(1) ?? "0", 16));
  });
  return valid ? path : undefined;
}

function rangeSpec(range: KeyRange): string {
  if (typeof range === "object" && range !== null) {
    if ("suffixLength" in range) {
      if (Number.isSafeInteger(range.suffixLength) && range.suffixLength >= 0) return `-${range.suffixLength}`;
    } else if (Number.isSafeInteger(range.offset) && range.offset >= 0 && Number.isSafeInteger(range.length) && range.length >= 0) {
      return `${range.offset}+${range.length}`;
    }
  }
  throw new ZarrsCacheError(
    "INVALID_ARGUMENT",
    `range must be { offset, length } or { suffixLength } with non-negative integers, got ${describeRange(range)}`,
  );
}

function describeRange(range: unknown): string {
  if (typeof range !== "object" || range === null) return describe(range);
  try {
    return JSON.stringify(range) ?? describe(range);
  } catch {
    return describe(range);
  }
}

function parseRange(spec: string): KeyRange | undefined {
  const suffix = SUFFIX_RANGE.exec(spec);
  if (suffix) return { suffixLength: Number(suffix[1]) };
  const exact = EXACT_RANGE.exec(spec);
  if (exact) return { offset: Number(exact[1]), length: Number(exact[2]) };
  return undefined;
}

/**
 * The keys of one namespace. Build it once per dataset: `whole(path)` of a plain path is one
 * string concatenation and three native scans, cheap enough for the L1 hit path.
 */
export class CacheKeys {
  readonly namespace: string;
  /** Every key of this namespace, and no other, starts with this (for `invalidate(prefix)`). */
  readonly prefix: string;

  constructor(namespace: string) {
    if (typeof namespace !== "string") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `a cache key namespace must be a string, got ${describe(namespace)}`);
    }
    this.namespace = namespace;
    this.prefix = `${CACHE_KEY_FORMAT}|${escapeNamespace(namespace)}|`;
  }

  /** The key of a whole value. */
  whole(path: string): string {
    if (typeof path === "string") {
      // Scans the key rather than the path: the prefix never holds NUL, ":" or a lone surrogate,
      // and the key is flattened once, for these scans and the tier's hash alike.
      const key = this.prefix + path;
      if (isPlain(key)) return key;
    }
    return this.prefix + escapePath(path);
  }

  /** The key of a byte range of `path`. Throws INVALID_ARGUMENT for a range that is not non-negative integers. */
  range(path: string, range: KeyRange): string {
    return this.whole(path) + RANGE_MARK + rangeSpec(range);
  }

  /** Every range key of `path`, and no key of another path, starts with this. */
  rangePrefix(path: string): string {
    return this.whole(path) + RANGE_MARK;
  }

  /** The inverse of `whole()` and `range()`; undefined for a key this namespace never builds. */
  parse(key: string): { path: string; range?: KeyRange } | undefined {
    if (typeof key !== "string" || !key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    const mark = rest.indexOf(RANGE_MARK);
    const path = unescapePath(mark === -1 ? rest : rest.slice(0, mark));
    if (path === undefined) return undefined;
    if (mark === -1) return this.whole(path) === key ? { path } : undefined;
    const range = parseRange(rest.slice(mark + RANGE_MARK.length));
    return range !== undefined && this.range(path, range) === key ? { path, range } : undefined;
  }
}

/** The key of `path` (or of a byte range of it) in `namespace`. */
export function cacheKey(namespace: string, path: string, range?: KeyRange): string {
  const keys = new CacheKeys(namespace);
  return range === undefined ? keys.whole(path) : keys.range(path, range);
}

/** The namespace, path and range a key was built from; undefined for anything `cacheKey` never returns. */
export function parseCacheKey(key: string): ParsedCacheKey | undefined {
  const start = `${CACHE_KEY_FORMAT}|`;
  if (typeof key !== "string" || !key.startsWith(start)) return undefined;
  const end = key.indexOf("|", start.length);
  if (end === -1) return undefined;
  const encoded = key.slice(start.length, end);
  const namespace = encoded.replace(NAMESPACE_ESCAPE, (_, byte: string | undefined, unit: string | undefined) =>
    String.fromCharCode(Number.parseInt(byte ?? unit!, 16)),
  );
  const keys = new CacheKeys(namespace);
  if (keys.prefix !== key.slice(0, end + 1)) return undefined; // not the escaping we write
  const parsed = keys.parse(key);
  return parsed && { namespace, ...parsed };
}
