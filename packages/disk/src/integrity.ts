import { checksum } from "./checksum.js";

const NO_EXPIRY_SEED = 0x5bd1e995;

/**
 * The checksum stored with an entry. It covers the key and the expiry as well as the value, so a
 * damaged key can never serve another key's bytes and a damaged expiry is caught too.
 */
export function entryChecksum(encodedKey: Uint8Array, value: Uint8Array, expiresAt: number | null): number {
  const seed = expiresAt === null ? NO_EXPIRY_SEED : (expiresAt >>> 0) ^ Math.imul(Math.floor(expiresAt / 2 ** 32), 0x27d4eb2f);
  return checksum(value, checksum(encodedKey, seed));
}
