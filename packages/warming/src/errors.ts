import { ZarrsCacheError } from "@zarrs-cache/core";

/** Shows a value in an error message: short, readable. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === "object" ? `an instance of ${value.constructor?.name ?? "Object"}` : typeof value;
}

export function badOption(owner: string, option: string, must: string, value: unknown): ZarrsCacheError {
  return new ZarrsCacheError("INVALID_CONFIG", `${owner}: option "${option}" ${must}, got ${show(value)}`);
}

/** Checks an options argument is a plain object (or undefined). */
export function assertOptionsObject(owner: string, options: unknown): asserts options is Record<string, unknown> | undefined {
  if (options !== undefined && (options === null || typeof options !== "object" || Array.isArray(options))) {
    throw new ZarrsCacheError("INVALID_CONFIG", `${owner}: options must be an object, got ${show(options)}`);
  }
}

export function positiveInteger(owner: string, option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) throw badOption(owner, option, "must be a positive integer", value);
  return value as number;
}

export function nonNegativeNumber(owner: string, option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw badOption(owner, option, "must be a non-negative number", value);
  return value;
}
