import { ZarrsCacheError, assertKnownOptions, assertTtl, configNumber } from "@zarrs-cache/core";
import type { Keyv } from "keyv";
import type { Encoding } from "./transport.js";

export interface KeyvTierOptions {
  /** Name in stats and events (default "keyv"). */
  name?: string;
  /** Default TTL in ms for entries set without one (default: the Keyv instance's own `ttl`, else none). */
  ttl?: number;
  /** Largest value accepted, in bytes; larger ones throw VALUE_TOO_LARGE (default 64 MiB). */
  maxValueBytes?: number;
  /**
   * How entries are handed to Keyv (default "auto": a Buffer when this instance's serializer keeps
   * Buffers in fewer bytes than base64 text, or keeps objects as they are; otherwise base64 text).
   */
  encoding?: Encoding;
  /** Time limit in ms for each call into Keyv; 0 = none (default 2000). Exceeding it throws TIMEOUT. */
  timeout?: number;
  /**
   * After the store was unreachable or too slow, calls fail at once with TIER_UNAVAILABLE for this
   * many ms before the store is tried again; 0 = always try (default 1000).
   */
  retryAfter?: number;
  /** Call `keyv.disconnect()` on close() (default true; set false when the Keyv instance is shared). */
  disconnectOnClose?: boolean;
}

export interface ResolvedOptions {
  name: string;
  ttl: number | undefined;
  maxValueBytes: number;
  encoding: Encoding;
  timeout: number;
  retryAfter: number;
  disconnectOnClose: boolean;
}

const ENCODINGS: readonly Encoding[] = ["auto", "base64", "binary"];
const KEYV_METHODS = ["get", "set", "delete", "clear", "on", "off", "serializeData", "deserializeData"] as const;
const EXAMPLE = 'keyvTier(new Keyv({ store: new KeyvSqlite("sqlite://cache.sqlite"), namespace: "zarr" }))';

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  return typeof value;
}

/** Checks that `keyv` is a usable Keyv 5 instance (by shape: a copy of keyv loaded twice must pass). */
export function assertKeyv(keyv: unknown): asserts keyv is Keyv {
  const candidate = keyv as Record<string, unknown> | null | undefined;
  const isKeyv =
    typeof candidate === "object" &&
    candidate !== null &&
    KEYV_METHODS.every((method) => typeof candidate[method] === "function") &&
    typeof candidate.store === "object" &&
    candidate.store !== null;
  if (!isKeyv) {
    const looksLikeAdapter =
      typeof candidate === "object" && candidate !== null && typeof candidate.get === "function" && typeof candidate.set === "function";
    const hint = looksLikeAdapter ? "; it looks like a store adapter or a Map: wrap it as new Keyv({ store: adapter, namespace })" : "";
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `keyvTier(keyv): expected a Keyv 5 instance, got ${describe(keyv)}${hint}. Example: ${EXAMPLE}`,
    );
  }
  const namespace = (keyv as Keyv).namespace;
  if (typeof namespace !== "string" || namespace.length === 0) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `keyvTier(keyv): the Keyv instance has no namespace, so clear() would empty the whole store; give it one, e.g. ${EXAMPLE}`,
    );
  }
}

export function resolveOptions(options: KeyvTierOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new ZarrsCacheError("INVALID_CONFIG", `keyvTier(keyv, options): options must be an object, got ${describe(options)}`);
  }
  const o = options ?? {};
  assertKnownOptions("keyvTier()", o, ["name", "ttl", "maxValueBytes", "encoding", "timeout", "retryAfter", "disconnectOnClose"]);
  configNumber("keyvTier()", "maxValueBytes", o.maxValueBytes, { min: 0, integer: true, optional: true });
  configNumber("keyvTier()", "timeout", o.timeout, { min: 0, optional: true });
  configNumber("keyvTier()", "retryAfter", o.retryAfter, { min: 0, optional: true });
  try {
    assertTtl(o.ttl, 'keyvTier(): option "ttl"');
  } catch (error) {
    throw new ZarrsCacheError("INVALID_CONFIG", (error as Error).message);
  }
  if (o.name !== undefined && (typeof o.name !== "string" || o.name.length === 0)) {
    throw new ZarrsCacheError("INVALID_CONFIG", `keyvTier(): option "name" must be a non-empty string, got ${describe(o.name)}`);
  }
  if (o.encoding !== undefined && !ENCODINGS.includes(o.encoding)) {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `keyvTier(): option "encoding" must be one of ${ENCODINGS.join(", ")}, got ${JSON.stringify(o.encoding)}`,
    );
  }
  if (o.disconnectOnClose !== undefined && typeof o.disconnectOnClose !== "boolean") {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `keyvTier(): option "disconnectOnClose" must be a boolean, got ${describe(o.disconnectOnClose)}`,
    );
  }
  return {
    name: o.name ?? "keyv",
    ttl: o.ttl,
    maxValueBytes: o.maxValueBytes ?? 64 * 1024 * 1024,
    encoding: o.encoding ?? "auto",
    timeout: o.timeout ?? 2000,
    retryAfter: o.retryAfter ?? 1000,
    disconnectOnClose: o.disconnectOnClose ?? true,
  };
}
