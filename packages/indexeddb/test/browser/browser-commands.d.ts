// The commands vitest.browser.config.ts registers (scripts/browser/tab-commands.ts): extra real tabs.
import "vitest/browser";

declare module "vitest/browser" {
  interface BrowserCommands {
    tabOpen: (name: string) => Promise<void>;
    tabRun: <T = unknown>(name: string, source: string, arg?: unknown) => Promise<T>;
    tabClose: (name: string) => Promise<void>;
  }
}
