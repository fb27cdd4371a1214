// The docs site: built from the repository's own markdown (docs/, the package READMEs, the
// examples), so the site and GitHub show the same text. `pnpm docs` serves it, `pnpm docs:build`
// builds it (a dead link fails the build); the API pages come from TypeDoc (docs/api, generated).
import { defineConfig } from "vitepress";

const packages = ["core", "memory", "disk", "redis", "keyv", "hybrid", "compression", "zarrita", "indexeddb", "warming", "metrics"];

export default defineConfig({
  title: "zarrs-cache",
  description: "A fast, multi-tier, zarr-aware cache in front of zarrita.js stores",
  srcDir: "..",
  srcExclude: [
    "**/node_modules/**",
    "**/dist/**",
    "bench/**",
    ".changeset/**",
    "**/CHANGELOG.md",
    "**/test/**",
    ".scratch/**",
    "**/.run/**",
  ],
  rewrites: { "docs/index.md": "index.md" },
  cleanUrls: true,
  themeConfig: {
    nav: [
      { text: "Guide", link: "/docs/getting-started" },
      { text: "Packages", link: "/packages/core/README" },
      { text: "API", link: "/docs/api/README" },
    ],
    sidebar: [
      {
        text: "Guide",
        items: [
          { text: "Getting started", link: "/docs/getting-started" },
          { text: "Choosing tiers", link: "/docs/choosing-tiers" },
          { text: "zarrita", link: "/packages/zarrita/README" },
          { text: "Redis and scale-out", link: "/docs/scale-out" },
          { text: "In the browser", link: "/docs/browser" },
          { text: "Warming", link: "/docs/warming" },
          { text: "Metrics", link: "/docs/metrics" },
          { text: "Guarantees", link: "/docs/guarantees" },
          { text: "Recipes", link: "/docs/recipes" },
          { text: "Architecture", link: "/docs/architecture" },
          { text: "Soak test", link: "/docs/soak" },
        ],
      },
      { text: "Packages", items: packages.map((name) => ({ text: `@zarrs-cache/${name}`, link: `/packages/${name}/README` })) },
      { text: "Examples", items: ["quickstart", "viewer"].map((name) => ({ text: name, link: `/examples/${name}/README` })) },
      { text: "Reference", items: [{ text: "API (TypeDoc)", link: "/docs/api/README" }] },
    ],
    search: { provider: "local" },
  },
});
