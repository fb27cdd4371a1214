import { ZarrsCacheError, assertKnownOptions, configNumber } from "@zarrs-cache/core";
import { type Codec, MAX_ORIGINAL_BYTES } from "./header.js";

export type { Codec };
export type Implementation = "auto" | "node:zlib" | "fflate";

export interface CompressionOptions {
  /** Stream format of compressed values (default "zlib": deflate plus an Adler-32 checksum). */
  codec?: Codec;
  /** Compression level, 1 (fastest) to 9 (smallest) (default 1). */
  level?: number;
  /** Values shorter than this are stored raw without trying (default 256 bytes). */
  minBytes?: number;
  /**
   * Keep the compressed form only if it saves at least this fraction of the value's size
   * (default 0.1, that is 10%); otherwise the value is stored raw. In [0, 1).
   */
  minSavings?: number;
  /**
   * Store values whose sampled byte entropy looks random (already-compressed chunks) raw without
   * compressing them first (default true). See the README for the one case it misjudges.
   */
  entropyCheck?: boolean;
  /**
   * "auto" (default): node:zlib where it loads (Node, Deno, Bun), else fflate. "node:zlib" or
   * "fflate" force one (both read what either writes).
   */
  implementation?: Implementation;
  /**
   * The largest value this tier stores or decodes, in bytes. A stored value whose header claims
   * more is refused before decoding, and decoding stops as soon as the output passes the length
   * the header claims: a small stored "bomb" can never make a read allocate or spend more than
   * this. Default: the inner tier's `maxValueBytes` when it states one (memory() does), else
   * 64 MiB. At most 4 GiB − 1 (the header's limit).
   */
  maxDecompressedBytes?: number;
  /**
   * Values whose original length is above this decode without holding the event loop: on
   * node:zlib's thread pool in Node, in slices of a few ms with fflate elsewhere (default 1 MiB).
   * Smaller ones decode synchronously, which is faster for them. 0 makes every decode asynchronous.
   */
  asyncAboveBytes?: number;
  /** Name in stats and events (default `compressed(<inner name>)`). */
  name?: string;
}

export interface ResolvedOptions {
  codec: Codec;
  level: number;
  minBytes: number;
  minSavings: number;
  entropyCheck: boolean;
  implementation: Implementation;
  maxDecompressedBytes: number;
  asyncAboveBytes: number;
  name: string | undefined;
}

/** The cap on decoded values when neither the options nor the inner tier set one. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ASYNC_ABOVE_BYTES = 1024 * 1024;

const OWNER = "compressed()";
const CODECS: readonly Codec[] = ["deflate", "zlib", "gzip"];
const IMPLEMENTATIONS: readonly Implementation[] = ["auto", "node:zlib", "fflate"];
const KNOWN = [
  "codec",
  "level",
  "minBytes",
  "minSavings",
  "entropyCheck",
  "implementation",
  "maxDecompressedBytes",
  "asyncAboveBytes",
  "name",
] as const;

function invalid(message: string): ZarrsCacheError {
  return new ZarrsCacheError("INVALID_CONFIG", `${OWNER}: ${message}`);
}

/**
 * Checks the options; throws INVALID_CONFIG naming the first bad one. `innerMaxValueBytes` is the
 * wrapped tier's own value limit, when it states one: the default for maxDecompressedBytes.
 */
export function resolveOptions(options: CompressionOptions | undefined, innerMaxValueBytes?: number): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalid(`options must be an object like { codec: "zlib", level: 1 }, got ${options === null ? "null" : typeof options}`);
  }
  assertKnownOptions(OWNER, options, KNOWN);
  const { codec = "zlib", level = 1, minBytes = 256, minSavings = 0.1, entropyCheck = true, implementation = "auto", name } = options;
  if (!CODECS.includes(codec))
    throw invalid(`option "codec" must be one of ${CODECS.map((c) => `"${c}"`).join(", ")}, got ${JSON.stringify(codec)}`);
  configNumber(OWNER, "level", level, { min: 1, integer: true });
  if (level > 9) throw invalid(`option "level" must be an integer from 1 to 9, got ${level}`);
  configNumber(OWNER, "minBytes", minBytes, { min: 0, integer: true });
  configNumber(OWNER, "minSavings", minSavings, { min: 0 });
  if (minSavings >= 1) throw invalid(`option "minSavings" must be a fraction in [0, 1), got ${minSavings}`);
  if (typeof entropyCheck !== "boolean") throw invalid(`option "entropyCheck" must be a boolean, got ${typeof entropyCheck}`);
  if (!IMPLEMENTATIONS.includes(implementation)) {
    throw invalid(
      `option "implementation" must be one of ${IMPLEMENTATIONS.map((c) => `"${c}"`).join(", ")}, got ${JSON.stringify(implementation)}`,
    );
  }
  const fromInner = innerMaxValueBytes === undefined ? undefined : Math.min(innerMaxValueBytes, MAX_ORIGINAL_BYTES);
  const { maxDecompressedBytes = fromInner ?? DEFAULT_MAX_DECOMPRESSED_BYTES, asyncAboveBytes = DEFAULT_ASYNC_ABOVE_BYTES } = options;
  configNumber(OWNER, "maxDecompressedBytes", maxDecompressedBytes, { min: 1, integer: true });
  if (maxDecompressedBytes > MAX_ORIGINAL_BYTES) {
    throw invalid(`option "maxDecompressedBytes" must be at most ${MAX_ORIGINAL_BYTES} (the header's limit), got ${maxDecompressedBytes}`);
  }
  configNumber(OWNER, "asyncAboveBytes", asyncAboveBytes, { min: 0, integer: true });
  if (name !== undefined && (typeof name !== "string" || name.length === 0)) throw invalid(`option "name" must be a non-empty string`);
  return { codec, level, minBytes, minSavings, entropyCheck, implementation, maxDecompressedBytes, asyncAboveBytes, name };
}
