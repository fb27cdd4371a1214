import { ZarrsCacheError } from "../errors.js";

/** The CLOSED error every tier throws after `close()`; `label` names the tier ("memory tier \"l1\""). */
export function closedError(label: string): ZarrsCacheError {
  return new ZarrsCacheError("CLOSED", `${label} is closed`);
}

/**
 * The closed flag of one tier: `assertOpen()` at the top of every call, `markClosed()` at the top
 * of `close()` (false on the second call, so close() stays idempotent).
 */
export class OpenState {
  private isClosed = false;

  constructor(private readonly label: string) {}

  get closed(): boolean {
    return this.isClosed;
  }

  assertOpen(): void {
    if (this.isClosed) throw closedError(this.label);
  }

  /** Marks the tier closed; false when it already was. */
  markClosed(): boolean {
    if (this.isClosed) return false;
    this.isClosed = true;
    return true;
  }

  error(): ZarrsCacheError {
    return closedError(this.label);
  }
}
