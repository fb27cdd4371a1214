import { ZarrsCacheError } from "../errors.js";
import type { SetOptions } from "../types.js";
import { assertKey, assertSetOptions, assertValue } from "../validate.js";

/**
 * The checks at the top of every `set`: key, value, options, then the tier's size limit, which
 * throws VALUE_TOO_LARGE (changing nothing) naming the tier and the option that bounds it.
 */
export function assertSetArguments(
  key: unknown,
  value: unknown,
  options: unknown,
  limit?: { maxValueBytes: number; label: string; option?: string },
): asserts value is Uint8Array {
  assertKey(key);
  assertValue(value);
  assertSetOptions(options as SetOptions | undefined);
  if (limit !== undefined && value.byteLength > limit.maxValueBytes) throw valueTooLarge(limit.label, value.byteLength, limit);
}

/** VALUE_TOO_LARGE for a value of `bytes` over `maxValueBytes` (the option named `option`, default "maxValueBytes"). */
export function valueTooLarge(label: string, bytes: number, limit: { maxValueBytes: number; option?: string }): ZarrsCacheError {
  const option = limit.option ?? "maxValueBytes";
  return new ZarrsCacheError("VALUE_TOO_LARGE", `${label}: a value of ${bytes} bytes is over ${option} (${limit.maxValueBytes})`);
}

/** Checks the argument of `deletePrefix`. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string") throw new ZarrsCacheError("INVALID_ARGUMENT", "deletePrefix(prefix) needs a string prefix");
}
