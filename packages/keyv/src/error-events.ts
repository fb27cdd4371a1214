import { isWrongType } from "./store-errors.js";

/** Where the error events stood when a call started. */
export interface EventMark {
  readonly failures: number;
  readonly wrongTypes: number;
}

/**
 * The 'error' events of one Keyv instance (its own and its adapter's). Keyv and some adapters
 * report a failure only as an event plus an `undefined` result, but events carry no trace of the
 * call they belong to: a call consults them only when its own result is ambiguous (a miss, a
 * `false` delete, or any result of an adapter that cannot be made to throw).
 *
 * WRONGTYPE replies are kept apart: they come from reading a Redis key of another type (someone
 * else's data) and can never be the failure of a write, a delete or a clear.
 */
export class ErrorEvents {
  /** Every event seen (reported as `stats().errorEvents`). */
  count = 0;
  private failures = 0;
  private wrongTypes = 0;
  private lastFailure: unknown;

  record(error: unknown): void {
    this.count++;
    if (isWrongType(error)) this.wrongTypes++;
    else {
      this.failures++;
      this.lastFailure = error;
    }
  }

  mark(): EventMark {
    return { failures: this.failures, wrongTypes: this.wrongTypes };
  }

  /** The latest failure event since `mark`, wrapped (an event's payload may itself be undefined), or undefined if none fired. */
  failureSince(mark: EventMark): { error: unknown } | undefined {
    return this.failures === mark.failures ? undefined : { error: this.lastFailure };
  }

  wrongTypeSince(mark: EventMark): boolean {
    return this.wrongTypes !== mark.wrongTypes;
  }
}
