/** One read or write in flight for a key; `stale` turns true when a newer write or delete starts. */
export interface Ticket {
  readonly key: string;
  stale: boolean;
}

/**
 * Tracks reads and writes of the disk level that are in flight, so that one which finishes after
 * a newer write or delete of the same key does not put its (older) value into memory.
 */
export class StaleGuard {
  private readonly open = new Map<string, Set<Ticket>>();

  begin(key: string): Ticket {
    const ticket: Ticket = { key, stale: false };
    let tickets = this.open.get(key);
    if (tickets === undefined) this.open.set(key, (tickets = new Set()));
    tickets.add(ticket);
    return ticket;
  }

  end(ticket: Ticket): void {
    const tickets = this.open.get(ticket.key);
    if (tickets === undefined) return;
    tickets.delete(ticket);
    if (tickets.size === 0) this.open.delete(ticket.key);
  }

  /** Marks every operation in flight on `key` stale. */
  invalidate(key: string): void {
    const tickets = this.open.get(key);
    if (tickets) for (const ticket of tickets) ticket.stale = true;
  }

  invalidateWhere(matches: (key: string) => boolean): void {
    for (const [key, tickets] of this.open) if (matches(key)) for (const ticket of tickets) ticket.stale = true;
  }
}
