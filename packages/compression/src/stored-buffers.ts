import type { CacheEntry, SetOptions } from "@zarrs-cache/core";
import { HEADER_BYTES } from "./header.js";

/** Largest buffer kept for reuse (a value up to 8 MiB); a larger stored value gets a buffer of its own each time. */
export const MAX_REUSED_BYTES = 8 * 1024 * 1024 + HEADER_BYTES;
/** How many set()s may leave the question open (the key gone again before it was asked) before settling on transfer. */
const PROBES = 4;
const TRANSFER: SetOptions = Object.freeze({ transfer: true });

type Mode = "undecided" | "transfer" | "reuse";

/**
 * Where set() builds the stored bytes (header + payload), in one of two ways. Both keep to the
 * CacheTier contract; which one is faster depends on what the inner tier does with the buffer.
 *
 * - transfer: a fresh buffer for each value, handed over with `transfer: true`. A tier that holds
 *   values in memory (memory()) keeps it as it is: one allocation and one copy in all, as many as
 *   the bare tier makes itself.
 * - reuse: one warm buffer, written again once the inner set() has resolved (the contract lets a
 *   tier use a buffer it was not handed over only until then; the conformance suite checks it).
 *   A tier that copies values anyway (disk(): into SQLite or a file) is then spared an allocation
 *   per value, which costs zeroing and, for large values, page faults: filling a warm buffer
 *   measured 5× faster than a fresh one at 64 KiB and 2× at 1 MiB.
 *
 * It starts with transfer and, after a set(), asks the inner tier once through getSync whether it
 * kept that very buffer; a copy means later values use reuse. A tier without getSync (Redis,
 * Keyv) stays with transfer. Either answer is only about speed, never about what is stored.
 */
export class StoredBuffers {
  private mode: Mode;
  private spare: ArrayBuffer | undefined;
  private probesLeft = PROBES;
  /** Buffers taken so far: a probe is only conclusive if no other set() started meanwhile. */
  private taken = 0;

  constructor(private readonly peek: ((key: string) => CacheEntry | undefined) | undefined) {
    this.mode = peek === undefined ? "transfer" : "undecided";
  }

  /** True when buffers taken now are reused: hand them over without `transfer` and give them back. */
  get reusing(): boolean {
    return this.mode === "reuse";
  }

  /** The number of buffers taken so far, which identifies the latest take() for learn(). */
  get count(): number {
    return this.taken;
  }

  /** A buffer of exactly `size` bytes to build a stored value in. */
  take(size: number): Uint8Array {
    this.taken++;
    if (this.mode !== "reuse" || size > MAX_REUSED_BYTES) return new Uint8Array(size);
    let buffer = this.spare;
    if (buffer !== undefined && buffer.byteLength >= size) {
      this.spare = undefined;
    } else {
      // Room for the next value to be a little larger (compressed sizes vary), so the buffer is not
      // outgrown by every value.
      buffer = new ArrayBuffer(Math.min(MAX_REUSED_BYTES, size + (size >>> 3)));
    }
    return new Uint8Array(buffer, 0, size);
  }

  /** The options to hand `stored` over with. A caller's `transfer` meant its own buffer, never ours. */
  options(options: SetOptions | undefined, reuse: boolean): SetOptions | undefined {
    if (reuse) return options?.transfer ? { ...options, transfer: false } : options;
    return options === undefined ? TRANSFER : { ...options, transfer: true };
  }

  /** After the inner set() resolved (never after it failed): the buffer may be written again. */
  giveBack(stored: Uint8Array): void {
    const buffer = stored.buffer as ArrayBuffer;
    if (buffer.byteLength > MAX_REUSED_BYTES || this.mode !== "reuse") return;
    if (this.spare === undefined || this.spare.byteLength < buffer.byteLength) this.spare = buffer;
  }

  /** After the inner set() of a handed-over buffer resolved: did the tier keep it, or copy it? */
  learn(key: string, stored: Uint8Array, taken: number): void {
    if (this.mode !== "undecided" || taken !== this.taken) return;
    let held: Uint8Array | undefined;
    try {
      held = this.peek!(key)?.value;
    } catch {
      held = undefined; // a failing lookup tells nothing
    }
    if (held === stored) this.mode = "transfer";
    else if (held !== undefined) this.mode = "reuse";
    else if (--this.probesLeft === 0) this.mode = "transfer";
  }

  /** Drops the warm buffer for good (the tier is closing; a set() still in flight keeps its own). */
  release(): void {
    this.spare = undefined;
    this.mode = "transfer";
  }
}
