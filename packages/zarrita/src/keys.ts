import type { RangeQuery } from "@zarrita/storage";

/**
 * Cache keys of one store: `${namespace}:${path}` for a whole value, plus a NUL-separated range
 * suffix for `getRange` reads. NUL never occurs in a zarr path, so the range keys of a path are
 * exactly the keys that start with `rangePrefix(path)`.
 */
export class StoreKeys {
  readonly prefix: string;

  constructor(namespace: string) {
    this.prefix = `${namespace}:`;
  }

  whole(path: string): string {
    return this.prefix + path;
  }

  range(path: string, range: RangeQuery): string {
    return "suffixLength" in range
      ? `${this.prefix}${path}\u0000-${range.suffixLength}`
      : `${this.prefix}${path}\u0000${range.offset}+${range.length}`;
  }

  rangePrefix(path: string): string {
    return `${this.prefix}${path}\u0000`;
  }

  /** The inverse of whole()/range(), for prefetching a key by name; undefined if not ours. */
  parse(key: string): { path: string; range?: RangeQuery } | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    const nul = rest.indexOf("\u0000");
    if (nul === -1) return { path: rest };
    const path = rest.slice(0, nul);
    const spec = rest.slice(nul + 1);
    const suffix = /^-(\d+)$/.exec(spec);
    if (suffix) return { path, range: { suffixLength: Number(suffix[1]) } };
    const exact = /^(\d+)\+(\d+)$/.exec(spec);
    if (exact) return { path, range: { offset: Number(exact[1]), length: Number(exact[2]) } };
    return undefined;
  }
}

/** A store's identity: its URL when it has one (FetchStore), else undefined. */
export function storeIdentity(store: unknown): string | undefined {
  const url = (store as { url?: unknown } | null)?.url;
  if (typeof url === "string" && url.length > 0) return url.replace(/\/+$/, "");
  if (url instanceof URL) return url.href.replace(/\/+$/, "");
  return undefined;
}
