// Browser commands that let a test open real extra tabs (pages of the same browser context, so
// the same origin, IndexedDB and BroadcastChannel) and run code in them: the multi-tab tests.
import type { Page } from "playwright";
import type { Plugin } from "vite";
import type { BrowserCommand } from "vitest/node";

/** The blank page the extra tabs load: same origin as the tests, nothing of vitest's running in it. */
export const TAB_PAGE = "/__zarrs-cache-tab.html";

export function tabPagePlugin(): Plugin {
  return {
    name: "zarrs-cache-tab-page",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (req.url !== TAB_PAGE) return next();
        res.setHeader("content-type", "text/html");
        res.end("<!doctype html><meta charset=utf-8><title>extra tab</title><body>extra tab</body>");
      });
    },
  };
}

const tabs = new Map<string, Page>();

type Context = Parameters<BrowserCommand<[]>>[0] & { context: import("playwright").BrowserContext; page: Page };

const tabOpen: BrowserCommand<[name: string]> = async (ctx, name) => {
  const { context, page } = ctx as Context;
  const origin = new URL(page.url()).origin;
  const tab = await context.newPage();
  await tab.goto(origin + TAB_PAGE);
  tabs.set(`${ctx.sessionId}/${name}`, tab);
};

/** Runs `source` (the body of an async function of `arg`) in the tab and returns its result. */
const tabRun: BrowserCommand<[name: string, source: string, arg?: unknown]> = async (ctx, name, source, arg) => {
  const tab = tabs.get(`${ctx.sessionId}/${name}`);
  if (!tab) throw new Error(`no tab named ${name}: call tabOpen first`);
  return tab.evaluate(
    ({ source, arg }) => {
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
      return new AsyncFunction("arg", source)(arg);
    },
    { source, arg },
  );
};

const tabClose: BrowserCommand<[name: string]> = async (ctx, name) => {
  const key = `${ctx.sessionId}/${name}`;
  await tabs.get(key)?.close();
  tabs.delete(key);
};

export const tabCommands = { tabOpen, tabRun, tabClose };
