import {
  type CacheEntry,
  type CacheTier,
  type HoldScope,
  type SetOptions,
  type TierGetOptions,
  type TierInvalidation,
  type TierStats,
  OpenState,
  ZarrsCacheError,
  assertKey,
  assertSetOptions,
  assertTier,
  assertValue,
  forwardOptional,
  valueTooLarge,
} from "@zarrs-cache/core";
import { type Engine, type ImplementationName, fflateEngine, loadNodeEngine, nodeZlibExpected } from "./engines.js";
import { IncompressibleRun, looksIncompressible } from "./entropy.js";
import { type Codec, HEADER_BYTES, isRawValue, readHeader, writeHeader } from "./header.js";
import { type CompressionOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { StoredBuffers } from "./stored-buffers.js";

/**
 * The inner tier's stats, with `hits` and `misses` as this wrapper answered them (an unreadable
 * value is a hit below and a miss here) and the compression counters added.
 */
export interface CompressionStats extends TierStats {
  /** Bytes of values given to set() (before compression). */
  bytesIn: number;
  /** Bytes handed to the inner tier for those values (headers included). */
  bytesOut: number;
  /** bytesIn / bytesOut: 2 means stored values take half the space; 1 before any set. */
  ratio: number;
  /** Values stored compressed. */
  storedCompressed: number;
  /** Values stored raw: too small, high entropy, or not shrinking by minSavings. */
  storedRaw: number;
  /** Of storedRaw, those the entropy check stored without trying to compress. */
  entropySkips: number;
  /** Time spent sampling and compressing in set(), ms (values skipped unseen in a run take none). */
  compressMs: number;
  /** Time spent decompressing in get()/getMany(), ms. */
  decompressMs: number;
  /** Values read that were not readable (foreign, truncated, corrupt, unknown version, oversized): answered as misses. */
  corruptions: number;
  /** Of corruptions, values whose header claims more than maxDecompressedBytes: refused without decoding. */
  oversized: number;
}

/** Deflate expands at most ~1032:1; an original length beyond that is a corrupt header. */
const MAX_EXPANSION = 1032;

/**
 * Wraps a tier so that values are stored compressed (or raw, when compression does not pay).
 * Keys, TTLs and expiry pass through unchanged; closing this tier closes the inner one.
 */
export class CompressedTier implements CacheTier {
  readonly name: string;
  /** The wrapped tier. */
  readonly inner: CacheTier;
  /** The largest value set() accepts and get() decodes (the option maxDecompressedBytes). */
  readonly maxValueBytes: number;
  // Present only when the inner tier has them (assigned in the constructor).
  declare readonly getMany?: (keys: readonly string[]) => Promise<(CacheEntry | undefined)[]>;
  declare readonly deletePrefix?: (prefix: string) => Promise<number>;
  declare readonly onInvalidation?: (listener: (message: TierInvalidation) => void) => () => void;
  declare readonly onEviction?: (listener: (key: string, reason: "evict" | "expire") => void) => () => void;
  declare readonly hold?: (scope: HoldScope, until: number) => Promise<void>;
  declare readonly release?: (scope: HoldScope) => Promise<void>;
  declare readonly repairPending?: (scope: HoldScope) => boolean;
  declare readonly loadSettled?: (key: string, outcome: "failed" | "aborted" | "uncached") => void;

  private readonly options: ResolvedOptions;
  private engine: Engine | undefined;
  private readonly engineLoad: Promise<Engine>;
  private readonly counters = {
    hits: 0,
    misses: 0,
    bytesIn: 0,
    bytesOut: 0,
    storedCompressed: 0,
    storedRaw: 0,
    entropySkips: 0,
    compressMs: 0,
    decompressMs: 0,
    corruptions: 0,
    oversized: 0,
  };
  private readonly incompressible = new IncompressibleRun();
  private readonly buffers: StoredBuffers;
  private readonly state: OpenState;

  constructor(inner: CacheTier, options?: CompressionOptions) {
    assertTier(inner, "compressed(tier): the first argument must be a CacheTier");
    this.options = resolveOptions(options, statedValueLimit(inner));
    this.maxValueBytes = this.options.maxDecompressedBytes;
    this.inner = inner;
    this.name = this.options.name ?? `compressed(${inner.name})`;
    this.state = new OpenState(`the compressed tier "${this.name}"`);
    this.buffers = new StoredBuffers(typeof inner.getSync === "function" ? (key) => inner.getSync!(key) : undefined);

    const implementation = this.options.implementation;
    if (implementation === "node:zlib" && !nodeZlibExpected()) {
      throw new ZarrsCacheError("INVALID_CONFIG", 'compressed(): option "implementation" is "node:zlib" but this runtime is not Node');
    }
    if (implementation === "fflate") {
      this.engine = fflateEngine;
      this.engineLoad = Promise.resolve(fflateEngine);
    } else {
      this.engineLoad = loadNodeEngine().then((engine) => {
        if (engine === undefined && implementation === "node:zlib") {
          throw new ZarrsCacheError("TIER_UNAVAILABLE", `compressed tier "${this.name}": node:zlib could not be loaded`);
        }
        this.engine = engine ?? fflateEngine;
        return this.engine;
      });
      this.engineLoad.catch(() => undefined); // reported to whoever waits on it, never unhandled
    }

    if (inner.getMany) this.getMany = (keys) => this.readMany(keys);
    forwardOptional(this, inner, ["deletePrefix"], () => this.state.assertOpen());
    forwardOptional(this, inner, ["onInvalidation", "onEviction"]);
    // Holds concern keys, not bytes: they go to the wrapped tier as they are.
    forwardOptional(this, inner, ["hold", "release"], () => this.state.assertOpen());
    forwardOptional(this, inner, ["repairPending"]);
    forwardOptional(this, inner, ["loadSettled"]);
  }

  /** Resolves with the implementation in use once it is loaded ("node:zlib" or "fflate"). */
  async ready(): Promise<ImplementationName> {
    return (this.engine ?? (await this.engineLoad)).name;
  }

  open(): void {
    this.inner.open?.();
  }

  async get(key: string, options?: TierGetOptions): Promise<CacheEntry | undefined> {
    this.state.assertOpen();
    assertKey(key);
    // getSync has get's semantics and saves a promise and a turn per read; a loading read of a tier
    // that coordinates loads across processes (it has loadSettled, like disk) goes through get.
    const inner = this.inner;
    const sync = inner.getSync !== undefined && (options?.load !== true || inner.loadSettled === undefined);
    const entry = sync ? inner.getSync!(key) : await (options === undefined ? inner.get(key) : inner.get(key, options));
    const engine = this.currentEngine();
    return this.decodeEntry(entry, engine instanceof Promise ? await engine : engine);
  }

  private async readMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    this.state.assertOpen();
    if (!Array.isArray(keys)) throw new ZarrsCacheError("INVALID_ARGUMENT", "getMany(keys) needs an array of keys");
    for (const key of keys) assertKey(key);
    const entries = await this.inner.getMany!(keys);
    const current = this.currentEngine();
    const engine = current instanceof Promise ? await current : current;
    const decoded = entries.map((entry) => this.decodeEntry(entry, engine));
    return decoded.some((entry) => entry instanceof Promise) ? Promise.all(decoded) : (decoded as (CacheEntry | undefined)[]);
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.state.assertOpen();
    assertKey(key);
    if (value instanceof Uint8Array && value.byteLength > this.maxValueBytes) {
      throw valueTooLarge(`compressed tier "${this.name}"`, value.byteLength, {
        maxValueBytes: this.maxValueBytes,
        option: "maxDecompressedBytes",
      });
    }
    assertValue(value);
    assertSetOptions(options);
    // Encoded before the first await, so a caller that reuses its buffer right after calling
    // set() (without waiting) cannot change what is stored. Only a forced node:zlib that is still
    // loading makes set() wait; it copies the value first.
    let engine = this.currentEngine();
    if (engine instanceof Promise) {
      value = new Uint8Array(value); // a copy (Buffer#slice would not be one)
      engine = await engine;
    }
    // Either a fresh buffer handed over (the inner tier may keep it) or a warm one lent until the
    // inner set() resolves: see StoredBuffers.
    const buffers = this.buffers;
    const reuse = buffers.reusing;
    const stored = this.encode(value, engine);
    const taken = buffers.count;
    // Sizes read now: the caller may reuse (even detach) its buffer once set() returns, and a tier
    // handed ours with `transfer` may detach that one.
    const valueBytes = value.byteLength;
    const storedBytes = stored.byteLength;
    const raw = isRawValue(stored);
    await this.inner.set(key, stored, buffers.options(options, reuse));
    const counters = this.counters;
    counters.bytesIn += valueBytes;
    counters.bytesOut += storedBytes;
    if (raw) counters.storedRaw++;
    else counters.storedCompressed++;
    if (reuse) buffers.giveBack(stored);
    else buffers.learn(key, stored, taken);
  }

  async delete(key: string): Promise<boolean> {
    this.state.assertOpen();
    return this.inner.delete(key);
  }

  /** Whether the inner tier holds the key; an unreadable value still counts (get() will miss). */
  async has(key: string): Promise<boolean> {
    this.state.assertOpen();
    return this.inner.has(key);
  }

  async clear(): Promise<void> {
    this.state.assertOpen();
    await this.inner.clear();
  }

  async *keys(prefix?: string): AsyncIterable<string> {
    this.state.assertOpen();
    yield* prefix === undefined ? this.inner.keys() : this.inner.keys(prefix);
  }

  stats(): CompressionStats {
    const counters = this.counters;
    return { ...this.inner.stats(), ...counters, ratio: counters.bytesOut === 0 ? 1 : counters.bytesIn / counters.bytesOut };
  }

  /** Closes this wrapper and the tier it wraps. Idempotent. */
  async close(): Promise<void> {
    if (!this.state.markClosed()) return;
    this.buffers.release();
    await this.inner.close();
  }

  // ─── encoding ────────────────────────────────────────────────────────────────

  /** Header + payload in a buffer of exactly the stored size (its header tells raw from compressed). */
  private encode(value: Uint8Array, engine: Engine): Uint8Array {
    const { codec, level, minBytes, minSavings, entropyCheck } = this.options;
    const length = value.byteLength;
    let payload: Uint8Array | undefined;
    if (length > 0 && length >= minBytes) {
      if (entropyCheck && this.incompressible.skip()) {
        this.counters.entropySkips++; // decided without looking at the value: nothing to time
      } else {
        const started = performance.now();
        if (entropyCheck && looksIncompressible(value)) {
          this.counters.entropySkips++;
          this.incompressible.record(true);
        } else {
          const candidate = engine.compress(codec, value, level);
          if (candidate.byteLength < length && candidate.byteLength <= length * (1 - minSavings)) payload = candidate;
          this.incompressible.record(payload === undefined);
        }
        this.counters.compressMs += performance.now() - started;
      }
    }
    const body = payload ?? value;
    const stored = this.buffers.take(HEADER_BYTES + body.byteLength);
    stored.set(body, HEADER_BYTES);
    writeHeader(stored, payload ? codec : "raw", length);
    return stored;
  }

  /** The entry as the caller stored it, or undefined (a miss) when absent or unreadable; a promise for a large value. */
  private decodeEntry(entry: CacheEntry | undefined, engine: Engine): CacheEntry | undefined | Promise<CacheEntry | undefined> {
    if (entry === undefined) return this.answer(undefined, undefined);
    const value = this.decode(entry.value, engine);
    return value instanceof Promise ? value.then((decoded) => this.answer(entry, decoded)) : this.answer(entry, value);
  }

  private answer(entry: CacheEntry | undefined, value: Uint8Array | undefined): CacheEntry | undefined {
    if (value === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return entry!.expiresAt === undefined ? { value } : { value, expiresAt: entry!.expiresAt };
  }

  private decode(stored: Uint8Array, engine: Engine): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    // A raw value is returned as a view into the inner tier's buffer: no copy, and nothing to bound.
    if (stored instanceof Uint8Array && isRawValue(stored)) return stored.subarray(HEADER_BYTES);
    try {
      if (!(stored instanceof Uint8Array)) throw new Error("the inner tier returned something other than bytes");
      const header = readHeader(stored);
      const payload = stored.subarray(HEADER_BYTES);
      if (header.kind === "raw") return payload;
      const length = header.originalLength;
      // Both checked before anything is allocated or decoded.
      if (length > this.maxValueBytes) {
        this.counters.oversized++;
        throw new Error(`the header claims ${length} bytes, over maxDecompressedBytes`);
      }
      if (length > payload.byteLength * MAX_EXPANSION + 64) throw new Error("original length beyond what deflate can produce");
      if (length > this.options.asyncAboveBytes) return this.decodeAsync(header.kind, payload, length, engine);
      const started = performance.now();
      try {
        return engine.decompress(header.kind, payload, length);
      } finally {
        this.counters.decompressMs += performance.now() - started;
      }
    } catch {
      this.counters.corruptions++;
      return undefined;
    }
  }

  private async decodeAsync(codec: Codec, payload: Uint8Array, length: number, engine: Engine): Promise<Uint8Array | undefined> {
    const started = performance.now();
    try {
      return await engine.decompressAsync(codec, payload, length);
    } catch {
      this.counters.corruptions++;
      return undefined;
    } finally {
      this.counters.decompressMs += performance.now() - started;
    }
  }

  /** The loaded engine; fflate meanwhile (it reads and writes the same bytes), unless node:zlib is forced. */
  private currentEngine(): Engine | Promise<Engine> {
    if (this.engine) return this.engine;
    return this.options.implementation === "node:zlib" ? this.engineLoad : fflateEngine;
  }
}

/** The inner tier's own limit on a value's size, when it states one as a `maxValueBytes` property. */
function statedValueLimit(inner: CacheTier): number | undefined {
  const stated = (inner as { maxValueBytes?: unknown }).maxValueBytes;
  return typeof stated === "number" && Number.isFinite(stated) && stated >= 1 ? Math.floor(stated) : undefined;
}

/**
 * Wraps any tier with transparent compression:
 * `compressed(disk({ dir, maxBytes }), { codec: "zlib", level: 1 })`.
 */
export function compressed(tier: CacheTier, options?: CompressionOptions): CompressedTier {
  return new CompressedTier(tier, options);
}
