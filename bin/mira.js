#!/usr/bin/env node
// mira launcher: runs the TypeScript CLI (cli/mira.ts) under tsx in a child process whose stderr is
// filtered of driver noise (Dawn and Mesa write it natively, beyond the reach of in-process filters).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { childEnv } from "../scripts/lib/env.mjs";
import { filterStream } from "../scripts/lib/noise.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
let tsx;
try {
  tsx = pathToFileURL(require.resolve("tsx", { paths: [root] })).href;
} catch {
  process.stderr.write("mira: dependencies are not installed; run 'npm run setup' in " + root + "\n");
  process.exit(3);
}
const child = spawn(process.execPath, ["--import", tsx, join(root, "cli", "mira.ts"), ...process.argv.slice(2)], {
  stdio: ["inherit", "inherit", "pipe"],
  env: childEnv(),
});
filterStream(child.stderr, process.stderr);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGINT" ? 130 : 1)));
