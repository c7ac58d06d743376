#!/usr/bin/env node
// mira launcher: runs the CLI in a child process whose stderr is filtered of driver noise (Dawn and Mesa
// write it natively, beyond the reach of in-process filters). In a source checkout (cli/mira.ts and tsx
// present) it runs the TypeScript under tsx, so an edit needs no build; an installed package has only
// the compiled dist/.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { launch } from "../scripts/lib/launch.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function tsxLoader() {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve("tsx", { paths: [root] })).href;
  } catch {
    return undefined;
  }
}

function command() {
  const source = join(root, "cli", "mira.ts");
  const built = join(root, "dist", "cli", "mira.js");
  if (existsSync(source)) {
    const tsx = tsxLoader();
    if (tsx) return ["--import", tsx, source];
    if (!existsSync(built)) {
      process.stderr.write(`mira: dependencies are not installed; run 'npm run setup' in ${root}\n`);
      process.exit(3);
    }
  }
  if (!existsSync(built)) {
    process.stderr.write(`mira: ${built} is missing; this package was published without its build (npm run build)\n`);
    process.exit(3);
  }
  return [built];
}

launch([...command(), ...process.argv.slice(2)]);
