// load-tfjs.ts (bench/peers): bundles tfjs.ts with esbuild into .mira-cache/ (git-ignored) and imports
// the bundle. tfjs-core's Node build (its package "main") imports but has no chained ops and registers
// no gradients, so the bundle takes the ES-module build ("module": the one browser bundlers use) and
// registers both; its Node platform layer `require`s node:util, so the ESM bundle gets a `require`.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { createTfjs } from "./tfjs.js";
import { provideNavigator } from "./gpu.js";

const ROOT = join(import.meta.dirname, "..", "..");

export async function loadTfjs(gpu: GPU): Promise<typeof createTfjs> {
  const { build } = await import("esbuild");
  const dir = join(ROOT, ".mira-cache", "bench-peers");
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, "tfjs.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "tfjs.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    mainFields: ["module", "main"],
    banner: {
      js:
        'import { createRequire as __miraCreateRequire } from "node:module"; const require = ' +
        "__miraCreateRequire(import.meta.url);",
    },
    logLevel: "error",
    absWorkingDir: ROOT,
  });
  provideNavigator(gpu); // the backend registers itself at import only if navigator.gpu exists
  const mod = (await import(pathToFileURL(outfile).href)) as { createTfjs: typeof createTfjs };
  return mod.createTfjs;
}
