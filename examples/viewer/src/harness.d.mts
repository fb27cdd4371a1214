import type { Page } from "playwright-core";

export interface ViewerHarness {
  dir: string;
  server: {
    url: string;
    dataUrl: string;
    upstream: { url: string; stats: { requests: number; bytes: number }; reset(): void };
    close(): Promise<void>;
  };
  page: Page;
  errors: Error[];
  open(array?: string, options?: { reload?: boolean; query?: string }): Promise<unknown>;
  panTo(row: number, col: number): Promise<unknown>;
  flush(): Promise<void>;
  pageUpstream(): Promise<number>;
  levels(): Promise<{ name: string; hits: number; hitRate: number; bytes?: number; entries?: number }[]>;
  clearCache(): Promise<void>;
  close(options?: { keep?: string[] }): Promise<void>;
}

export function startViewerHarness(options?: { latencyMs?: number; arrays?: string[] }): Promise<ViewerHarness>;
