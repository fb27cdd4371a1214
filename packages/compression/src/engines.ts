import { type DeflateOptions, deflateSync, gunzipSync, gzipSync, inflateSync, unzlibSync, zlibSync } from "fflate";
import { adler32, crc32 } from "./checksums.js";
import type { Codec } from "./header.js";

export type ImplementationName = "node:zlib" | "fflate";

/** One (de)compression implementation. Both produce and read the standard streams. */
export interface Engine {
  readonly name: ImplementationName;
  /** One complete stream of `codec`. */
  compress(codec: Codec, data: Uint8Array, level: number): Uint8Array;
  /** The decoded bytes, exactly `originalLength` long; throws on anything else (bad stream, checksum, length). */
  decompress(codec: Codec, payload: Uint8Array, originalLength: number): Uint8Array;
}

// ─── fflate (everywhere) ────────────────────────────────────────────────────────

const readUint32LE = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const readUint32BE = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

export const fflateEngine: Engine = {
  name: "fflate",
  compress(codec, data, level) {
    const options: DeflateOptions = { level: level as DeflateOptions["level"] };
    if (codec === "deflate") return deflateSync(data, options);
    if (codec === "zlib") return zlibSync(data, options);
    // mtime 0 as node:zlib writes it, so equal input gives equal bytes.
    return gzipSync(data, { ...options, mtime: 0 });
  },
  decompress(codec, payload, originalLength) {
    // One spare byte: fflate silently stops writing at the end of a caller's buffer, so a stream
    // longer than the header says shows up as output that reaches the spare byte.
    const out = new Uint8Array(originalLength + 1);
    const decoded =
      codec === "deflate" ? inflateSync(payload, { out }) : codec === "zlib" ? unzlibSync(payload, { out }) : gunzipSync(payload, { out });
    if (decoded.byteLength !== originalLength) {
      throw new Error(`decoded ${decoded.byteLength >= out.byteLength ? "more than" : decoded.byteLength} bytes, expected ${originalLength}`);
    }
    // fflate does not check the stream's own checksum; do it here so corruption is never returned.
    if (codec === "zlib" && adler32(decoded) !== readUint32BE(payload, payload.byteLength - 4)) {
      throw new Error("zlib Adler-32 mismatch");
    }
    if (codec === "gzip") {
      const end = payload.byteLength;
      if (readUint32LE(payload, end - 4) !== originalLength || crc32(decoded) !== readUint32LE(payload, end - 8)) {
        throw new Error("gzip CRC-32 or size mismatch");
      }
    }
    return decoded;
  },
};

// ─── node:zlib (Node, Deno, Bun), loaded lazily ─────────────────────────────────

/** The part of node:zlib used here, typed locally so no Node types leak into the public API. */
interface NodeZlib {
  deflateRawSync(data: Uint8Array, options?: object): Uint8Array;
  inflateRawSync(data: Uint8Array, options?: object): Uint8Array;
  deflateSync(data: Uint8Array, options?: object): Uint8Array;
  inflateSync(data: Uint8Array, options?: object): Uint8Array;
  gzipSync(data: Uint8Array, options?: object): Uint8Array;
  gunzipSync(data: Uint8Array, options?: object): Uint8Array;
}

function nodeEngine(zlib: NodeZlib): Engine {
  return {
    name: "node:zlib",
    compress(codec, data, level) {
      const options = { level };
      if (codec === "deflate") return zlib.deflateRawSync(data, options);
      if (codec === "zlib") return zlib.deflateSync(data, options);
      return zlib.gzipSync(data, options);
    },
    decompress(codec, payload, originalLength) {
      // One output chunk of the expected size (+1, so a longer stream is caught): about twice as fast
      // as the default 16 KiB chunks, which are then concatenated. maxOutputLength bounds a bad stream.
      const options = { chunkSize: Math.max(64, originalLength + 1), maxOutputLength: Math.max(1, originalLength + 1) };
      const decoded =
        codec === "deflate"
          ? zlib.inflateRawSync(payload, options)
          : codec === "zlib"
            ? zlib.inflateSync(payload, options)
            : zlib.gunzipSync(payload, options);
      if (decoded.byteLength !== originalLength) throw new Error(`decoded ${decoded.byteLength} bytes, expected ${originalLength}`);
      return plainBytes(decoded);
    },
  };
}

/**
 * A Buffer as a plain Uint8Array (Buffer#slice does not copy, which surprises callers), copied
 * when it shares a larger backing store such as Node's small-buffer pool.
 */
function plainBytes(buffer: Uint8Array): Uint8Array {
  if (buffer.buffer.byteLength > buffer.byteLength + 64) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function isNodeLike(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof process?.versions?.node === "string";
}

let nodeZlib: Promise<Engine | undefined> | undefined;

/** node:zlib as an Engine, or undefined where it cannot be loaded (browsers, blocked). Loaded once. */
export function loadNodeEngine(): Promise<Engine | undefined> {
  nodeZlib ??= (async () => {
    if (!isNodeLike()) return undefined;
    try {
      const module = (await import("node:zlib")) as unknown as Partial<NodeZlib> & { default?: Partial<NodeZlib> };
      const zlib = typeof module.inflateSync === "function" ? module : module.default;
      const needed = ["deflateRawSync", "inflateRawSync", "deflateSync", "inflateSync", "gzipSync", "gunzipSync"] as const;
      // A bundler's empty browser shim for node:zlib has none of these.
      if (!zlib || needed.some((name) => typeof zlib[name] !== "function")) return undefined;
      return nodeEngine(zlib as NodeZlib);
    } catch {
      return undefined;
    }
  })();
  return nodeZlib;
}

/** True where node:zlib may be loadable (checked before trying, so browsers never try). */
export function nodeZlibExpected(): boolean {
  return isNodeLike();
}
