// What a documented code block may use without declaring it (see ../README.md), and the fetch
// rewrite that sends the docs' example URLs (https://example.com/…, https://example.org/…) to
// the local test server. Imported first by every prepared block.
import { memory } from "@zarrs-cache/memory";
import Redis from "ioredis";

const server = () => {
  const url = process.env.DOCS_BLOCKS_SERVER;
  if (!url) throw new Error("DOCS_BLOCKS_SERVER is not set: run blocks through the docs-blocks test");
  return url;
};

/** https://example.com/<anything>.zarr/… and example.org alike → the local array dataset. */
function rewrite(href) {
  const m = /^https?:\/\/example\.(?:com|org)\/[^/]+\.zarr(\/.*)?$/.exec(href);
  return m ? `${server()}/array.zarr${m[1] ?? ""}` : href;
}

/** Called first by every prepared block: example URLs go to the local server from now on. */
export function install() {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    if (typeof input === "string") return realFetch(rewrite(input), init);
    if (input instanceof URL) return realFetch(new URL(rewrite(input.href)), init);
    return realFetch(new Request(rewrite(input.url), input), init);
  };
}

let client;
export const ambient = {
  /** A zarr v3 group on the local server: temperature [16,256,256] in chunks [8,64,64]. */
  get url() {
    return `${server()}/group.zarr`;
  },
  /** 8 KiB of chunk-like bytes. */
  bytes: new Uint8Array(8192).map((_, i) => i & 0xff),
  chunkBytes: new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff),
  /** An upstream read: 4 KiB after a 5 ms wait. */
  fetchFromUpstream: async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return new Uint8Array(4096).fill(1);
  },
  log: (...values) => console.log(...values),
  /** A tier to run the conformance suite on. */
  myTier: () => memory({ maxBytes: 64 * 1024 * 1024 }),
  /** An ioredis client of the local Redis (127.0.0.1:6379). */
  get myIoredisClient() {
    client ??= new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: false });
    return client;
  },
};

export const AMBIENT_NAMES = Object.keys(Object.getOwnPropertyDescriptors(ambient));

// `console.log(x); // → value` lines become checks: what x prints must be `value`.
const expectations = [];
/** How a logged value is written in a `// →` comment: strings as they are, the rest as JSON. */
export function show(value) {
  if (typeof value === "string") return value;
  if (value === undefined) return "undefined";
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
}
export function expectLogged(index, line, expected, ...values) {
  const printed = values.map(show).join(" ");
  console.log(...values);
  expectations.push({ index, line, expected, printed });
}
/** Checks that every annotated line ran and printed what its comment says; returns the failures. */
export function failedExpectations(count) {
  const failures = expectations
    .filter((e) => e.printed !== e.expected)
    .map((e) => `block line ${e.line}: the comment says\n  ${e.expected}\nbut it printed\n  ${e.printed}`);
  for (let index = 0; index < count; index++) {
    if (!expectations.some((e) => e.index === index)) failures.push(`annotated console.log #${index + 1} never ran`);
  }
  return failures;
}
