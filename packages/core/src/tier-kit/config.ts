import { ZarrsCacheError } from "../errors.js";
import { assertTtl, describe } from "../validate.js";

/** Checks an optional TTL option (a positive number of ms); throws INVALID_CONFIG naming it. */
export function configTtl(owner: string, name: string, value: unknown): void {
  try {
    assertTtl(value, `${owner}: option "${name}"`);
  } catch (error) {
    throw new ZarrsCacheError("INVALID_CONFIG", (error as Error).message);
  }
}

/** Checks an optional `name` option (a non-empty string); throws INVALID_CONFIG naming it. */
export function configName(owner: string, value: unknown): void {
  if (value !== undefined && (typeof value !== "string" || value.length === 0)) {
    throw new ZarrsCacheError("INVALID_CONFIG", `${owner}: option "name" must be a non-empty string, got ${describe(value)}`);
  }
}
