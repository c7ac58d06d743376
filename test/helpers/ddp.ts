// ddp.ts (tests): the exported train.py on two CPU processes under torchrun, and its losses against mira's.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { runPython } from "./torch.js";

const TORCHRUN = "/usr/bin/torchrun";

/** Runs `script args` as 2 processes under torchrun (standalone, gloo), its logs in `logDir`. */
export function torchrun2(
  logDir: string,
  script: string,
  args: readonly string[],
  opts: { cwd?: string } = {},
): { stdout: string; stderr: string } {
  if (!existsSync(TORCHRUN))
    throw new Error(`${TORCHRUN} is missing: run \`npm run setup\`, which installs Debian's python3-torch`);
  // torchrun is a Python script: run it with the interpreter that has torch (runPython checks it).
  // --redirects 1 --tee 1: Debian 12's torch 1.13 on Python 3.11 cannot parse the defaults (0).
  return runPython(
    [
      TORCHRUN,
      "--standalone",
      "--redirects",
      "1",
      "--tee",
      "1",
      "--log_dir",
      logDir,
      "--nproc_per_node",
      "2",
      script,
      ...args,
    ],
    { ...opts, timeoutMs: 300_000 },
  );
}

/** The loss of every logged step of run `run`, from its metrics.jsonl. */
function lossesOf(runsDir: string, run: string): number[] {
  return readFileSync(join(runsDir, run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
}

/** Run `torchRun` of the exported script logged `steps` losses, and they follow run "mira"'s step for step
 *  (|Δ| ≤ 1e-4). */
export function expectLossesFollowMira(runsDir: string, torchRun: string, steps: number): void {
  const ours = lossesOf(runsDir, torchRun);
  const mira = lossesOf(runsDir, "mira");
  expect(ours).toHaveLength(steps);
  ours.forEach((l, i) =>
    expect(Math.abs(l - mira[i]), `step ${i + 1}: torch ${l}, mira ${mira[i]}`).toBeLessThanOrEqual(1e-4),
  );
}
