#!/usr/bin/env node
// quiet.mjs: runs a command with driver noise filtered from its stderr (see lib/noise.mjs), forwarding
// its exit code. `npm test`, `npm start` and `npm run bench` run through it.
import { spawn } from "node:child_process";
import { filterStream } from "./lib/noise.mjs";
import { childEnv } from "./lib/env.mjs";

const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ["inherit", "inherit", "pipe"], env: childEnv() });
filterStream(child.stderr, process.stderr);
// Ctrl-C reaches the child too (same process group); wait for it to finish cleanly.
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGINT" ? 130 : 1)));
