// launch.mjs: runs a Node script in a child process on this same Node, in mira's environment (env.mjs),
// with driver noise filtered from its stderr (noise.mjs), and exits with its exit code. The launchers
// bin/mira.js and the portable bundle's (scripts/bundle.mjs) are this and a choice of script.
import { spawn } from "node:child_process";
import { childEnv } from "./env.mjs";
import { filterStream } from "./noise.mjs";

export function launch(nodeArgs) {
  const child = spawn(process.execPath, nodeArgs, { stdio: ["inherit", "inherit", "pipe"], env: childEnv() });
  filterStream(child.stderr, process.stderr);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) =>
    process.exit(code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1)),
  );
}
