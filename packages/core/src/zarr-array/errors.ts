import { ZarrsCacheError } from "../errors.js";

/** A short, readable rendering of a JSON-ish value for error messages. */
export function show(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return String(value); // JSON would print NaN and Infinity as null
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return typeof value;
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    return typeof value;
  }
}

/** Metadata or an argument that is malformed. */
export function invalid(message: string, cause?: unknown): ZarrsCacheError {
  return new ZarrsCacheError("INVALID_ARGUMENT", message, cause === undefined ? undefined : { cause });
}

/** Metadata that is well formed but describes something this model does not handle. */
export function unsupported(message: string): ZarrsCacheError {
  return new ZarrsCacheError("UNSUPPORTED", message);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for a non-negative safe integer. */
export function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
