// Bounded decoding with fflate. fflate's one-shot inflateSync keeps decoding to the end of the
// stream even when the output buffer it was given is full (it drops the extra bytes), so a small
// stream that expands 1000-fold costs seconds of CPU whatever buffer it gets. Here the stream is
// fed to fflate's streaming Inflate a step at a time and decoding stops after the first step whose
// output passes the expected length. The gzip and zlib wrappers and trailers are read here, so
// all three codecs take one path through fflate (raw deflate), and the trailer's checksum is
// kept up as output arrives.
import { Inflate, inflateSync } from "fflate";
import { adler32, crc32 } from "./checksums.js";
import type { Codec } from "./header.js";
import { yieldToEventLoop } from "./yield.js";

/**
 * Input bytes fed per step. One step inflates at most ~1032× its input (deflate's limit), and only
 * between steps can decoding stop, so a bomb overshoots the expected length by at most one step's
 * output: ~16.5 MiB for a synchronous decode (values up to asyncAboveBytes), ~4 MiB for an
 * asynchronous one, where one step is also the longest the event loop is held. It is a trade:
 * fflate allocates fresh buffers on every push, so smaller steps make real values slower (4 KiB
 * steps measured 2–6× fflate's one-shot call, 16 KiB 1.2–2×), and a step's cost grows faster than
 * its output (16 KiB of bomb took 250–450 ms here, 4 KiB 33–95 ms, on a loaded machine). The
 * one-shot call is no way out: it cannot be stopped, and keeps decoding past the end of its
 * output buffer (dropping the bytes) to the end of the stream.
 */
export const SYNC_STEP_BYTES = 16 * 1024;
export const ASYNC_STEP_BYTES = 4 * 1024;
/** How long the asynchronous decoder runs before it lets the event loop turn. */
const SLICE_MS = 5;

const readUint32LE = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const readUint32BE = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/** The raw deflate stream inside `payload`, its wrapper checked; throws for a malformed wrapper. */
export function deflateBody(codec: Codec, payload: Uint8Array): Uint8Array {
  if (codec === "deflate") return payload;
  const length = payload.byteLength;
  if (codec === "zlib") {
    // RFC 1950: CM 8, window ≤ 32 KiB, header check, no preset dictionary; 4-byte Adler-32 trailer.
    const cmf = payload[0]!;
    const flg = payload[1]!;
    if (length < 6 || (cmf & 15) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) throw new Error("bad zlib header");
    return payload.subarray(2, length - 4);
  }
  // RFC 1952: magic, CM 8, then optional extra field, name, comment and header CRC; 8-byte trailer.
  if (length < 18 || payload[0] !== 0x1f || payload[1] !== 0x8b || payload[2] !== 8) throw new Error("bad gzip header");
  const flags = payload[3]!;
  let at = 10;
  if (flags & 4) at += 2 + (payload[10]! | (payload[11]! << 8));
  for (const flag of [8, 16]) {
    if (!(flags & flag)) continue;
    while (at < length && payload[at] !== 0) at++;
    at++;
  }
  if (flags & 2) at += 2;
  if (at > length - 8) throw new Error("bad gzip header");
  return payload.subarray(at, length - 8);
}

/** The running checksum of the wrapper's trailer: Adler-32 for zlib, CRC-32 for gzip, none for deflate. */
function initialChecksum(codec: Codec): number {
  return codec === "zlib" ? 1 : 0;
}

function updateChecksum(codec: Codec, checksum: number, chunk: Uint8Array): number {
  return codec === "zlib" ? adler32(chunk, checksum) : codec === "gzip" ? crc32(chunk, checksum) : 0;
}

/** Checks the wrapper's own trailer against what was decoded (fflate does not). */
function verifyTrailer(codec: Codec, payload: Uint8Array, decodedBytes: number, checksum: number): void {
  const end = payload.byteLength;
  if (codec === "zlib" && checksum !== readUint32BE(payload, end - 4)) throw new Error("zlib Adler-32 mismatch");
  if (codec === "gzip" && (readUint32LE(payload, end - 4) !== decodedBytes >>> 0 || checksum !== readUint32LE(payload, end - 8))) {
    throw new Error("gzip CRC-32 or size mismatch");
  }
}

/**
 * Feeds the deflate stream inside `payload` to fflate a step at a time, into a buffer of exactly
 * the expected length, with the trailer's checksum kept up as output arrives (so no second pass
 * over a large value blocks the event loop at the end).
 */
class BoundedInflate {
  private readonly body: Uint8Array;
  private readonly out: Uint8Array;
  private written = 0;
  private at = 0;
  private checksum: number;
  private readonly inflater: Inflate;

  constructor(
    private readonly codec: Codec,
    private readonly payload: Uint8Array,
    private readonly expected: number,
    private readonly stepBytes: number,
  ) {
    this.body = deflateBody(codec, payload);
    this.out = new Uint8Array(expected);
    this.checksum = initialChecksum(codec);
    this.inflater = new Inflate((chunk) => {
      // Thrown out of push(): decoding stops here, at most one step past the expected length.
      if (chunk.byteLength > expected - this.written) throw new Error(`the stream decodes to more than ${expected} bytes`);
      this.out.set(chunk, this.written);
      this.written += chunk.byteLength;
      this.checksum = updateChecksum(codec, this.checksum, chunk);
    });
  }

  /** Decodes the next step; true once the whole body is in. */
  step(): boolean {
    const end = Math.min(this.body.byteLength, this.at + this.stepBytes);
    const last = end === this.body.byteLength;
    this.inflater.push(this.body.subarray(this.at, end), last);
    this.at = end;
    return last;
  }

  result(): Uint8Array {
    if (this.written !== this.expected) throw new Error(`decoded ${this.written} bytes, expected ${this.expected}`);
    verifyTrailer(this.codec, this.payload, this.written, this.checksum);
    return this.out;
  }
}

/** Exactly `expected` bytes, or throws; stops decoding once the output passes `expected`. */
export function inflateBounded(codec: Codec, payload: Uint8Array, expected: number): Uint8Array {
  const body = deflateBody(codec, payload);
  if (body.byteLength > SYNC_STEP_BYTES) {
    const inflate = new BoundedInflate(codec, payload, expected, SYNC_STEP_BYTES);
    while (!inflate.step());
    return inflate.result();
  }
  // One step's worth of input can expand only so far, and the one-shot call is faster. One spare
  // byte: fflate stops writing at the end of the buffer, so a longer stream shows up as output
  // that reaches it.
  const decoded = inflateSync(body, { out: new Uint8Array(expected + 1) });
  if (decoded.byteLength !== expected) {
    throw new Error(`decoded ${decoded.byteLength > expected ? "more than" : decoded.byteLength} bytes, expected ${expected}`);
  }
  verifyTrailer(codec, payload, expected, updateChecksum(codec, initialChecksum(codec), decoded));
  return decoded;
}

/** As inflateBounded, in slices of a few ms with the event loop let through in between. */
export async function inflateBoundedAsync(codec: Codec, payload: Uint8Array, expected: number): Promise<Uint8Array> {
  const inflate = new BoundedInflate(codec, payload, expected, ASYNC_STEP_BYTES);
  let sliceStart = performance.now();
  while (!inflate.step()) {
    if (performance.now() - sliceStart >= SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return inflate.result();
}
