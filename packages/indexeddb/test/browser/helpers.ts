import { deleteDB } from "idb";

const created: string[] = [];

/** A database name no other test uses; `dropDatabases()` deletes them all. */
export function freshName(label: string): string {
  const name = `zc-${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  created.push(name);
  return name;
}

export async function dropDatabases(): Promise<void> {
  for (const name of created.splice(0)) await deleteDB(name);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function filled(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

export async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

/** Polls `condition` until it holds or `ms` pass; returns whether it held (messages between tabs take a moment). */
export async function waitFor(condition: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}
