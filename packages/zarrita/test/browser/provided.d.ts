// What the browser run's global setup (scripts/browser/global-setup.ts) provides to tests.
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** A small zarr v3 dataset served on 127.0.0.1 with CORS: arrays "plain" and "sharded". */
    zarrUrl: string;
    /** Each array's shape and values, as written. */
    zarrExpected: Record<string, { shape: number[]; values: number[] }>;
  }
}
