/**
 * Single GETs issued in the same turn go out as one MGET: Redis answers one command instead of
 * many, ioredis parses one reply, and the tier pays one deadline and one breaker check for the
 * lot. The batch closes when the turn's promise callbacks have run (`process.nextTick` queued from
 * them runs after them), so callers that re-issue gets as replies arrive batch together too.
 * Not for a Cluster: its keys live in many slots and MGET would be refused (CROSSSLOT). While
 * Redis is not healthy (`batching()` false: not connected, breaker not closed) each get goes
 * alone, so failures, rejections and timeouts are still counted per call.
 */
export class GetBatcher {
  private queue: { full: string; resolve: (value: Buffer | null) => void; reject: (error: unknown) => void }[] = [];

  constructor(
    private readonly getOne: (full: string) => Promise<Buffer | null>,
    private readonly getMany: (fulls: string[]) => Promise<(Buffer | null)[]>,
    private readonly maxKeys: number,
    private readonly batching: () => boolean,
  ) {}

  get(full: string): Promise<Buffer | null> {
    if (!this.batching()) return this.getOne(full);
    return new Promise((resolve, reject) => {
      if (this.queue.push({ full, resolve, reject }) === 1) process.nextTick(this.flush);
    });
  }

  private readonly flush = (): void => {
    const queue = this.queue;
    this.queue = [];
    if (queue.length === 1) {
      const only = queue[0]!;
      this.getOne(only.full).then(only.resolve, only.reject);
      return;
    }
    for (let start = 0; start < queue.length; start += this.maxKeys) {
      const part = queue.slice(start, start + this.maxKeys);
      this.getMany(part.map((w) => w.full)).then(
        (values) => {
          for (let i = 0; i < part.length; i++) part[i]!.resolve(values[i] ?? null);
        },
        (error: unknown) => {
          for (const w of part) w.reject(error);
        },
      );
    }
  };
}
