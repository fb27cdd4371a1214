import type { AbsolutePath, GetOptions, RangeQuery } from "@zarrita/storage";

export interface CoalesceOptions {
  /** Largest hole (bytes) between two ranges that are still fetched as one (default 32 KiB). */
  gap?: number;
  /** Largest merged request in bytes (default 64 MiB); a single larger range is fetched alone. */
  maxBytes?: number;
}

type OffsetRange = { offset: number; length: number };
type GetRange = (path: AbsolutePath, range: RangeQuery, opts?: GetOptions) => Promise<Uint8Array | undefined>;

interface Wanted extends OffsetRange {
  signal: AbortSignal;
  resolve(value: Uint8Array | undefined): void;
  reject(error: unknown): void;
}

/** A merged request on its way: later reads inside [offset, end) wait for it instead of asking again. */
interface InFlight {
  offset: number;
  end: number;
  bytes: Promise<Uint8Array | undefined>;
}

/** Runs `fn` after the I/O callbacks of this turn (loads that missed together, together). */
const soon: (fn: () => void) => void = typeof setImmediate === "function" ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/**
 * Merges the byte ranges of one path that miss at about the same time (zarrita asks for the inner
 * chunks of a shard all at once) into as few upstream requests as the gap allowance permits,
 * then hands each caller exactly its bytes, in a buffer of its own. A range inside a merged
 * request still in flight waits for that request.
 */
export class RangeBatcher {
  private readonly pending = new Map<AbsolutePath, Wanted[]>();
  private readonly inFlight = new Map<AbsolutePath, InFlight[]>();
  private scheduled = false;
  private readonly gap: number;
  private readonly maxBytes: number;

  constructor(
    private readonly getRange: GetRange,
    options: CoalesceOptions,
  ) {
    this.gap = options.gap ?? 32 * 1024;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Called once a write of `path` reached the store: reads that start from now on never wait for
   * a merged request sent before it (it may carry the old bytes).
   */
  forget(path: AbsolutePath): void {
    this.inFlight.delete(path);
  }

  fetch(path: AbsolutePath, range: RangeQuery, signal: AbortSignal): Promise<Uint8Array | undefined> {
    if ("suffixLength" in range) return this.getRange(path, range, { signal });
    const carrier = this.inFlight.get(path)?.find((f) => f.offset <= range.offset && range.offset + range.length <= f.end);
    if (carrier !== undefined) return carrier.bytes.then((bytes) => this.part(path, bytes, carrier.offset, range, signal));
    return new Promise((resolve, reject) => {
      let wanted = this.pending.get(path);
      if (wanted === undefined) this.pending.set(path, (wanted = []));
      wanted.push({ offset: range.offset, length: range.length, signal, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        soon(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const work = [...this.pending];
    this.pending.clear();
    for (const [path, wanted] of work) {
      const live = wanted.filter((w) => !(w.signal.aborted && (w.reject(w.signal.reason), true)));
      live.sort((a, b) => a.offset - b.offset);
      for (const group of this.groups(live)) this.send(path, group);
    }
  }

  private groups(sorted: Wanted[]): Wanted[][] {
    const groups: Wanted[][] = [];
    let current: Wanted[] = [];
    let start = 0;
    let end = 0;
    for (const w of sorted) {
      const wEnd = w.offset + w.length;
      if (current.length > 0 && w.offset <= end + this.gap && Math.max(end, wEnd) - start <= this.maxBytes) {
        current.push(w);
        end = Math.max(end, wEnd);
        continue;
      }
      if (current.length > 0) groups.push(current);
      current = [w];
      start = w.offset;
      end = wEnd;
    }
    if (current.length > 0) groups.push(current);
    return groups;
  }

  private send(path: AbsolutePath, group: Wanted[]): void {
    const offset = group[0]!.offset;
    const end = group.reduce((e, w) => Math.max(e, w.offset + w.length), 0);
    const controller = new AbortController();
    // The merged request stops only once every range it carries was given up.
    let waiting = group.length;
    for (const w of group) {
      w.signal.addEventListener("abort", () => --waiting === 0 && controller.abort(w.signal.reason), { once: true });
    }
    const bytes = this.getRange(path, { offset, length: end - offset }, { signal: controller.signal });
    const flight: InFlight = { offset, end, bytes };
    const flights = this.inFlight.get(path) ?? [];
    flights.push(flight);
    this.inFlight.set(path, flights);
    const landed = () => {
      const index = flights.indexOf(flight);
      if (index >= 0) flights.splice(index, 1);
      if (flights.length === 0 && this.inFlight.get(path) === flights) this.inFlight.delete(path);
    };
    bytes.then(landed, landed);
    for (const w of group) {
      bytes.then((value) => this.part(path, value, offset, w, w.signal)).then(w.resolve, w.reject);
    }
  }

  /**
   * The caller's range out of a merged answer: its own copy, so a cached inner chunk never pins
   * the whole merged buffer. A range the answer does not fully cover (past the end of the
   * object) is asked for alone, so the caller sees what the store says about exactly that range.
   */
  private part(path: AbsolutePath, merged: Uint8Array | undefined, mergedOffset: number, range: OffsetRange, signal: AbortSignal) {
    if (merged === undefined) return undefined;
    const start = range.offset - mergedOffset;
    if (start + range.length > merged.length) return this.getRange(path, { offset: range.offset, length: range.length }, { signal });
    if (start === 0 && range.length === merged.length) return merged;
    return new Uint8Array(merged.subarray(start, start + range.length));
  }
}
