// peers.ts (bench): mira against two WebGPU peers on the same Dawn adapter — a transformer block
// (forward, forward + backward) and a fused elementwise kernel, in mira, @jax-js/jax and
// @tensorflow/tfjs-backend-webgpu — written to docs/PERFORMANCE.md ("Peers on this adapter").
// `npx tsx bench/peers.ts` alone, or from bench/run.ts. The benchmark (peers/bench.ts) runs in a child
// process whose stderr is filtered of Dawn's and Mesa's noise (scripts/quiet.mjs), so a peer that
// crashes natively ends that child only, never the caller.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(import.meta.dirname, "..");

/** Runs bench script `file` (under bench/) with `args` in a child process, its stderr filtered
 *  (scripts/quiet.mjs); resolves false (after saying why, naming it `what`) when it did not finish. Never
 *  rejects. */
export function runBenchScript(file: string, args: readonly string[], what: string): Promise<boolean> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "scripts", "quiet.mjs"), process.execPath, "--import", tsx, join(ROOT, "bench", file), ...args],
      { stdio: "inherit" },
    );
    child.on("error", (e) => {
      process.stdout.write(`${what}: could not start: ${e.message}\n`);
      resolve(false);
    });
    child.on("exit", (code, signal) => {
      if (code !== 0)
        process.stdout.write(
          `${what}: stopped (${signal ?? `exit code ${code}`}); its figures are incomplete and ` +
            "docs/PERFORMANCE.md keeps its previous section\n",
        );
      resolve(code === 0);
    });
  });
}

/** Runs the peer benchmark; resolves false (after saying why) when it did not finish. Never rejects. */
export const runPeers = (): Promise<boolean> => runBenchScript(join("peers", "bench.ts"), [], "peers");

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exit((await runPeers()) ? 0 : 1);
