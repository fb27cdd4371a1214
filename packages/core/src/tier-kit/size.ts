/** Bookkeeping bytes an in-memory entry is charged besides its payload (map slot, objects, key). */
export const DEFAULT_ENTRY_OVERHEAD = 128;

/**
 * The bytes an in-memory entry costs: payload, a fixed overhead, and 2 bytes per key character
 * (UTF-16). The memory tier, the hybrid's hot set and the bench all size entries with it.
 */
export function entryBytes(key: string, value: Uint8Array, overhead = DEFAULT_ENTRY_OVERHEAD): number {
  return value.byteLength + overhead + key.length * 2;
}
