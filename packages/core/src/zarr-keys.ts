/**
 * The zarr key model: what a store key means. Shared by the zarrita adapter (TTL classes),
 * warming and metrics, so that every package agrees on the shapes.
 */

/** How a key is treated for TTLs: zarr metadata, a chunk (or shard), or anything else. */
export type KeyKind = "metadata" | "chunk" | "other";

const METADATA_FILES = new Set([".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"]);
const V2_CHUNK = /^\d+(?:\.\d+)*$/;
const V3_DOTTED_CHUNK = /^c(?:\.\d+)+$/;

/** A chunk key split into the array it belongs to and its grid coordinates. */
export interface ChunkKey {
  /** The array's path without a trailing slash ("" for a root array), e.g. "/temperature". */
  arrayPath: string;
  /** Chunk grid coordinates, e.g. [0, 3, 1]. */
  coords: number[];
  /** "v3" for `c/…` or `c.…` keys, "v2" for `0.1` or `0/1` keys (also v3's v2 encoding). */
  encoding: "v3" | "v2";
  separator: "/" | ".";
}

/** The last path segment: "/a/b/zarr.json" → "zarr.json". */
export function basename(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? path : path.slice(i + 1);
}

export function isMetadataKey(path: string): boolean {
  return METADATA_FILES.has(basename(path));
}

/**
 * Parses a chunk key. Recognises v3 default encoding (`/arr/c/0/1`, `/arr/c.0.1`, and `/arr/c`
 * for a 0-d array) and v2 encoding (`/arr/0.1`, `/arr/0/1`). Returns undefined otherwise.
 * A v2 key written with "/" is ambiguous with nested groups named by digits; like zarr itself,
 * we read trailing all-digit segments as coordinates.
 */
export function parseChunkKey(path: string): ChunkKey | undefined {
  const segments = path.split("/");
  const last = segments[segments.length - 1] ?? "";
  if (METADATA_FILES.has(last) || last === "") return undefined;

  if (V3_DOTTED_CHUNK.test(last)) {
    return {
      arrayPath: segments.slice(0, -1).join("/"),
      coords: last.split(".").slice(1).map(Number),
      encoding: "v3",
      separator: ".",
    };
  }
  // v3 "/" separated: find the last "c" segment followed only by digit segments.
  let i = segments.length - 1;
  while (i >= 0 && /^\d+$/.test(segments[i]!)) i--;
  if (i >= 0 && segments[i] === "c" && (i < segments.length - 1 || last === "c")) {
    return {
      arrayPath: segments.slice(0, i).join("/"),
      coords: segments.slice(i + 1).map(Number),
      encoding: "v3",
      separator: "/",
    };
  }
  if (V2_CHUNK.test(last) && last.includes(".")) {
    return { arrayPath: segments.slice(0, -1).join("/"), coords: last.split(".").map(Number), encoding: "v2", separator: "." };
  }
  if (i < segments.length - 1) {
    // Trailing digit segments: v2 "/"-separated (or a 1-d "." key such as "/arr/3").
    return {
      arrayPath: segments.slice(0, i + 1).join("/"),
      coords: segments.slice(i + 1).map(Number),
      encoding: "v2",
      separator: i === segments.length - 2 ? "." : "/",
    };
  }
  return undefined;
}

/** Classifies a store path (e.g. "/arr/c/0/0" or "/arr/.zarray") for TTL classes. */
export function classifyKey(path: string): KeyKind {
  if (isMetadataKey(path)) return "metadata";
  return parseChunkKey(path) ? "chunk" : "other";
}

/** Builds a chunk key from coordinates, the inverse of `parseChunkKey`. */
export function chunkKey(arrayPath: string, coords: readonly number[], encoding: "v3" | "v2" = "v3", separator: "/" | "." = "/"): string {
  const base = arrayPath.endsWith("/") ? arrayPath.slice(0, -1) : arrayPath;
  if (encoding === "v3") return `${base}/c${coords.length === 0 ? "" : separator + coords.join(separator)}`;
  return `${base}/${coords.length === 0 ? "0" : coords.join(separator)}`;
}
