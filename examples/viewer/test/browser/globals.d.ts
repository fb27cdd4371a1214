// What the viewer page puts on window for tests (see src/app.ts).
export {};
declare global {
  interface Window {
    // biome-ignore lint/suspicious/noExplicitAny: the page's test handle, typed loosely on purpose
    viewer: any;
  }
}
