import { type DeflateOptions, deflateSync, gzipSync, zlibSync } from "fflate";
import { inflateBounded, inflateBoundedAsync } from "./fflate-inflate.js";
import type { Codec } from "./header.js";

export type ImplementationName = "node:zlib" | "fflate";

/**
 * One (de)compression implementation. Both produce and read the standard streams. Decoding is
 * bounded: it stops as soon as the output passes `originalLength` (a stream that claims 1 MiB but
 * expands to 1 GiB costs about 1 MiB of work and memory, not 1 GiB).
 */
export interface Engine {
  readonly name: ImplementationName;
  /** One complete stream of `codec`. */
  compress(codec: Codec, data: Uint8Array, level: number): Uint8Array;
  /** The decoded bytes, exactly `originalLength` long; throws on anything else (bad stream, checksum, length). */
  decompress(codec: Codec, payload: Uint8Array, originalLength: number): Uint8Array;
  /**
   * The same answer without holding the event loop for long: node:zlib decodes on libuv's thread
   * pool, fflate in slices of a few ms with the event loop let through in between.
   */
  decompressAsync(codec: Codec, payload: Uint8Array, originalLength: number): Promise<Uint8Array>;
}

// ─── fflate (everywhere) ────────────────────────────────────────────────────────

export const fflateEngine: Engine = {
  name: "fflate",
  compress(codec, data, level) {
    const options: DeflateOptions = { level: level as DeflateOptions["level"] };
    if (codec === "deflate") return deflateSync(data, options);
    if (codec === "zlib") return zlibSync(data, options);
    // mtime 0 as node:zlib writes it, so equal input gives equal bytes.
    return gzipSync(data, { ...options, mtime: 0 });
  },
  decompress: inflateBounded,
  decompressAsync: inflateBoundedAsync,
};

// ─── node:zlib (Node, Deno, Bun), loaded lazily ─────────────────────────────────

type Callback = (error: Error | null, result: Uint8Array) => void;

/** The part of node:zlib used here, typed locally so no Node types leak into the public API. */
interface NodeZlib {
  deflateRawSync(data: Uint8Array, options?: object): Uint8Array;
  inflateRawSync(data: Uint8Array, options?: object): Uint8Array;
  deflateSync(data: Uint8Array, options?: object): Uint8Array;
  inflateSync(data: Uint8Array, options?: object): Uint8Array;
  gzipSync(data: Uint8Array, options?: object): Uint8Array;
  gunzipSync(data: Uint8Array, options?: object): Uint8Array;
  inflateRaw(data: Uint8Array, options: object, callback: Callback): void;
  inflate(data: Uint8Array, options: object, callback: Callback): void;
  gunzip(data: Uint8Array, options: object, callback: Callback): void;
}

const NEEDED: readonly (keyof NodeZlib)[] = [
  "deflateRawSync",
  "inflateRawSync",
  "deflateSync",
  "inflateSync",
  "gzipSync",
  "gunzipSync",
  "inflateRaw",
  "inflate",
  "gunzip",
];

/**
 * One output chunk of the expected size (+1, so a longer stream shows): about twice as fast as the
 * default 16 KiB chunks, which are then concatenated. maxOutputLength makes zlib stop, and fail,
 * as soon as that chunk overflows: a longer stream is never decoded further.
 */
function inflateOptions(originalLength: number): object {
  return { chunkSize: Math.max(64, originalLength + 1), maxOutputLength: Math.max(1, originalLength) };
}

function exactly(decoded: Uint8Array, originalLength: number): Uint8Array {
  if (decoded.byteLength !== originalLength) throw new Error(`decoded ${decoded.byteLength} bytes, expected ${originalLength}`);
  return plainBytes(decoded);
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
      const options = inflateOptions(originalLength);
      const decoded =
        codec === "deflate"
          ? zlib.inflateRawSync(payload, options)
          : codec === "zlib"
            ? zlib.inflateSync(payload, options)
            : zlib.gunzipSync(payload, options);
      return exactly(decoded, originalLength);
    },
    decompressAsync(codec, payload, originalLength) {
      return new Promise((resolve, reject) => {
        const done: Callback = (error, decoded) => {
          if (error) reject(error);
          else if (decoded.byteLength === originalLength) resolve(plainBytes(decoded));
          else reject(new Error(`decoded ${decoded.byteLength} bytes, expected ${originalLength}`));
        };
        const options = inflateOptions(originalLength);
        if (codec === "deflate") zlib.inflateRaw(payload, options, done);
        else if (codec === "zlib") zlib.inflate(payload, options, done);
        else zlib.gunzip(payload, options, done);
      });
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
      // A bundler's empty browser shim for node:zlib has none of these.
      if (!zlib || NEEDED.some((name) => typeof zlib[name] !== "function")) return undefined;
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
