/**
 * Typed values over the byte cache: a codec turns values into bytes on the way in and back on the
 * way out, so the tiers keep storing bytes (never JSON objects or base64) and every tier works.
 */
import { ZarrsCacheError, isZarrsCacheError } from "./errors.js";
import type { Loader, LoadOptions, Ttl } from "./tiered-cache-options.js";
import { assertTtlOption, msOrNever } from "./tiered-cache-options.js";
import type { CacheEntry } from "./types.js";
import { describe } from "./validate.js";

/** Turns values of type `T` into bytes and back. `decode` must accept whatever `encode` returned. */
export interface ValueCodec<T> {
  /** Names the codec in error messages ("json", "text"). */
  readonly name: string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/**
 * What a typed view needs of a cache: a `TieredCache`, or a `namespace()` view of one.
 * Keys are the cache's keys (or, for a namespace view, paths inside the namespace).
 */
export interface ByteCache {
  getOrLoad(key: string, loader: Loader, options?: LoadOptions): Promise<Uint8Array | undefined>;
  get(key: string): Promise<CacheEntry | undefined>;
  set(key: string, value: Uint8Array, options?: { ttl?: number }): Promise<void>;
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
}

/** Loads a value from upstream; undefined means it does not exist there (cached as "absent"). */
export type ValueLoader<T> = (signal: AbortSignal) => Promise<T | undefined> | T | undefined;

/** A view of a cache that stores values of type `T` through a codec (see `json()`, `text()`, `typed()`). */
export class TypedCache<T> {
  constructor(
    readonly cache: ByteCache,
    readonly codec: ValueCodec<T>,
  ) {}

  /**
   * The value for `key`, from the tiers, else from `loader` (once per key however many callers
   * ask at once, as `TieredCache.getOrLoad`). A loaded value is returned as it comes back from
   * the bytes, so a miss and a later hit look the same (for `json`, a `Date` becomes a string).
   * Each call decodes its own copy: mutating it never touches the cache.
   */
  async getOrLoad(key: string, loader: ValueLoader<T>, options?: LoadOptions): Promise<T | undefined> {
    if (typeof loader !== "function") {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `getOrLoad(key, loader): loader must be a function, got ${describe(loader)}`);
    }
    // A loader declared without a parameter is called without a signal, as TieredCache does.
    const encodeLoaded = async (signal?: AbortSignal): Promise<Uint8Array | undefined> => {
      const value = await loader(signal as AbortSignal);
      if (value === undefined) return undefined;
      try {
        return this.encode(value);
      } catch (error) {
        const message = `the loader for ${key} returned a value the ${this.codec.name} codec cannot encode`;
        throw new ZarrsCacheError("UPSTREAM_ERROR", `${message}: ${messageOf(error)}`, { cause: error });
      }
    };
    // A wrapper without a parameter spares the load its AbortController (see Loader).
    const bytes = await this.cache.getOrLoad(key, loader.length === 0 ? () => encodeLoaded() : encodeLoaded, options);
    return bytes === undefined ? undefined : this.decode(key, bytes);
  }

  /** The cached value, or undefined when no tier holds it or it is cached as "absent". Loads nothing. */
  async get(key: string): Promise<T | undefined> {
    const entry = await this.cache.get(key);
    return entry === undefined || entry.value.byteLength === 0 ? undefined : this.decode(key, entry.value);
  }

  /**
   * Stores `value` in every tier. `ttl` in ms, or `false` (the default) for no expiry. A value
   * that encodes to no bytes (`""` in `text()`) is refused: an empty entry means "absent".
   */
  async set(key: string, value: T, options?: { ttl?: Ttl }): Promise<void> {
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `set(): options must be an object like { ttl: 60000 }, got ${describe(options)}`);
    }
    for (const name of Object.keys(options ?? {})) {
      if (name !== "ttl") throw new ZarrsCacheError("INVALID_ARGUMENT", `set(): unknown option "${name}" (known: ttl)`);
    }
    assertTtlOption("INVALID_ARGUMENT", "set()", "ttl", options?.ttl);
    let bytes: Uint8Array;
    try {
      bytes = this.encode(value);
    } catch (error) {
      if (isZarrsCacheError(error)) throw error;
      throw new ZarrsCacheError("INVALID_ARGUMENT", `set(${JSON.stringify(key)}): ${messageOf(error)}`, { cause: error });
    }
    if (bytes.byteLength === 0) {
      const message = `set(${JSON.stringify(key)}): the ${this.codec.name} codec encoded the value as no bytes, which the cache reads as "absent"`;
      throw new ZarrsCacheError("INVALID_ARGUMENT", message);
    }
    const ttl = options?.ttl === undefined ? undefined : msOrNever(options.ttl);
    await this.cache.set(key, bytes, ttl === undefined ? undefined : { ttl });
  }

  /** Removes `key` from every tier; true when something was removed. */
  delete(key: string): Promise<boolean> {
    return this.cache.delete(key);
  }

  /** True when a value is cached for `key` (false for "absent"). */
  has(key: string): Promise<boolean> {
    return this.cache.has(key);
  }

  private encode(value: T): Uint8Array {
    const bytes = this.codec.encode(value);
    if (!(bytes instanceof Uint8Array)) {
      throw new ZarrsCacheError(
        "INVALID_ARGUMENT",
        `the ${this.codec.name} codec's encode() returned ${describe(bytes)}, not a Uint8Array`,
      );
    }
    return bytes;
  }

  private decode(key: string, bytes: Uint8Array): T {
    try {
      return this.codec.decode(bytes);
    } catch (error) {
      const message = `the value cached under ${JSON.stringify(key)} is not ${this.codec.name} (${bytes.byteLength} bytes): ${messageOf(error)}`;
      throw new ZarrsCacheError("CORRUPT_ENTRY", message, { cause: error });
    }
  }
}

/** UTF-8 text. The decoder is strict: bytes that are not UTF-8 are refused, never replaced. */
export const textCodec: ValueCodec<string> = {
  name: "text",
  encode(value: string): Uint8Array {
    if (typeof value !== "string") throw new ZarrsCacheError("INVALID_ARGUMENT", `the text codec encodes strings, got ${describe(value)}`);
    return new TextEncoder().encode(value);
  },
  decode(bytes: Uint8Array): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  },
};

/** JSON as UTF-8 (`JSON.stringify` / `JSON.parse`). Values JSON cannot hold (functions, bigint, undefined) are refused. */
export function jsonCodec<T>(): ValueCodec<T> {
  return JSON_CODEC as ValueCodec<T>;
}

const JSON_CODEC: ValueCodec<unknown> = {
  name: "json",
  encode(value: unknown): Uint8Array {
    // JSON.stringify returns undefined for these instead of throwing.
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) throw new ZarrsCacheError("INVALID_ARGUMENT", `the json codec cannot encode ${describe(value)}`);
    return new TextEncoder().encode(text);
  },
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(textCodec.decode(bytes));
  },
};

/**
 * A view of `cache` that stores values through `codec`:
 * `const images = typed(cache, { name: "png", encode, decode })`.
 */
export function typed<T>(cache: ByteCache, codec: ValueCodec<T>): TypedCache<T> {
  assertByteCache("typed", cache);
  const c = codec as Partial<ValueCodec<T>> | null;
  if (
    typeof c !== "object" ||
    c === null ||
    typeof c.encode !== "function" ||
    typeof c.decode !== "function" ||
    typeof c.name !== "string"
  ) {
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `typed(cache, codec): codec must be { name, encode(value), decode(bytes) }, got ${describe(codec)}`,
    );
  }
  return new TypedCache(cache, codec);
}

/** A view of `cache` whose values are JSON: `const users = json<User[]>(cache)`. */
export function json<T>(cache: ByteCache): TypedCache<T> {
  assertByteCache("json", cache);
  return new TypedCache(cache, jsonCodec<T>());
}

/** A view of `cache` whose values are UTF-8 strings. */
export function text(cache: ByteCache): TypedCache<string> {
  assertByteCache("text", cache);
  return new TypedCache(cache, textCodec);
}

const BYTE_CACHE_METHODS = ["getOrLoad", "get", "set", "delete", "has"] as const;

function assertByteCache(helper: string, cache: unknown): asserts cache is ByteCache {
  const c = cache as Record<string, unknown> | null;
  const missing = typeof c === "object" && c !== null ? BYTE_CACHE_METHODS.filter((m) => typeof c[m] !== "function") : BYTE_CACHE_METHODS;
  if (missing.length > 0) {
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `${helper}(cache): cache must be a cache built with createCache()...build() or a namespace() view, got ${describe(cache)}`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
