// `mira train` and the signals and neighbours of a long run: --resume on a run with no checkpoint yet
// starts fresh and says so; a lock left by a dead trainer is taken over; a second trainer on the same
// run directory is refused with one line (exit 2); SIGTERM stops like Ctrl-C, after a checkpoint, exit 143.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { loadCheckpoint } from "../../runtime/checkpoint.js";
import { textDataFolder } from "../helpers/text-data.js";

const root = join(import.meta.dirname, "..", "..");
const mira = join(root, "bin", "mira.js");
const { dir, data } = textDataFolder("mira-signals-");
const runDir = join(dir, "runs", "sig");
const args = [
  mira,
  "train",
  join(root, "models", "char_lm.mira"),
  "--data",
  data,
  "--preset",
  "tiny",
  "--steps",
  "100000",
  "--batch",
  "4",
  "--window",
  "16",
  "--run",
  "sig",
  "--resume",
  "--log-every",
  "1",
  "--checkpoint-every",
  "100000",
  "--eval-every",
  "100000",
];

const lastStep = (): number => {
  const f = join(runDir, "metrics.jsonl");
  const lines = existsSync(f) ? readFileSync(f, "utf8").trim().split("\n").filter(Boolean) : [];
  return lines.length ? (JSON.parse(lines[lines.length - 1]) as { step: number }).step : 0;
};

test(
  "--resume without a checkpoint starts fresh; " + "a second trainer is refused; SIGTERM saves and exits 143",
  async () => {
    mkdirSync(runDir, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(join(runDir, "lock"), `${dead}\n`); // left behind by a killed trainer
    const child: ChildProcess = spawn(process.execPath, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (lastStep() >= 3) {
          clearInterval(poll);
          resolve();
        }
      }, 50);
      void exited.then(() => {
        clearInterval(poll);
        reject(new Error(`the run ended before it could be stopped: ${stderr}`));
      });
    });
    const pid = readFileSync(join(runDir, "lock"), "utf8").trim();
    expect(pid).not.toBe(String(dead));

    const second = spawnSync(process.execPath, args, { cwd: dir });
    expect(second.status).toBe(2);
    const lines = second.stderr.toString().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^mira: .*sig is in use by another trainer \\(pid ${pid}, .*lock\\); ` +
          `wait for it to finish, stop it, or train with another --run$`,
      ),
    );

    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(143);
    expect(stdout).toContain(`${join("runs", "sig")} has no checkpoint yet; starting a fresh run\n`);
    const stopped = /stopped at step (\d+); checkpoint/.exec(stdout);
    expect(stopped, stdout).not.toBeNull();
    expect(loadCheckpoint(join(runDir, "checkpoint.safetensors")).metadata.step).toBe(stopped![1]);
    expect(existsSync(join(runDir, "lock"))).toBe(false);
  },
);
