// `mira train` killed with SIGKILL mid-run resumes from its last checkpoint and reproduces the
// uninterrupted run's losses bit for bit; a corrupt checkpoint is one error line and exit 2 (bad input).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { textDataFolder } from "../helpers/text-data.js";

const root = join(import.meta.dirname, "..", "..");
const mira = join(root, "bin", "mira.js");
const { dir, data } = textDataFolder("mira-kill-");
const args = (run: string): string[] => [
  mira,
  "train",
  join(root, "models", "char_lm.mira"),
  "--data",
  data,
  "--preset",
  "tiny",
  "--steps",
  "40",
  "--batch",
  "4",
  "--window",
  "16",
  "--run",
  run,
  "--log-every",
  "1",
  "--checkpoint-every",
  "10",
  "--eval-every",
  "1000",
  "--json",
];

function losses(run: string): Map<number, number> {
  const rows = readFileSync(join(dir, "runs", run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { step: number; loss?: number });
  return new Map(rows.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss!]));
}

const lastStep = (run: string): number => {
  const f = join(dir, "runs", run, "metrics.jsonl");
  if (!existsSync(f)) return 0;
  const lines = readFileSync(f, "utf8").trim().split("\n").filter(Boolean);
  return lines.length ? (JSON.parse(lines[lines.length - 1]) as { step: number }).step : 0;
};

test("kill -9 during training, then --resume, gives the uninterrupted losses", async () => {
  expect(spawnSync(process.execPath, args("straight"), { cwd: dir }).status).toBe(0);
  const child: ChildProcess = spawn(process.execPath, args("killed"), { cwd: dir, stdio: "ignore", detached: true });
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (lastStep("killed") >= 15) {
        clearInterval(poll);
        process.kill(-child.pid!, "SIGKILL"); // the launcher and the trainer it runs
        resolve();
      }
    }, 50);
    child.on("exit", () => {
      clearInterval(poll);
      reject(new Error("the run ended before it could be killed"));
    });
  });
  const resumed = spawnSync(
    process.execPath,
    [
      mira,
      "train",
      join(root, "models", "char_lm.mira"),
      "--data",
      data,
      "--run",
      "killed",
      "--resume",
      "--log-every",
      "1",
      "--checkpoint-every",
      "10",
      "--eval-every",
      "1000",
      "--json",
    ],
    { cwd: dir },
  );
  expect(resumed.status, resumed.stderr.toString()).toBe(0);
  const a = losses("straight");
  const b = losses("killed");
  for (let s = 1; s <= 40; s++) expect(b.get(s), `step ${s}`).toBe(a.get(s));
});

test("a corrupt checkpoint is bad input: one clear error line and exit 2", () => {
  const ckpt = join(dir, "runs", "straight", "checkpoint.safetensors");
  const bytes = readFileSync(ckpt);
  writeFileSync(join(dir, "truncated.safetensors"), bytes.subarray(0, bytes.byteLength >> 1));
  const r = spawnSync(
    process.execPath,
    [mira, "generate", "--checkpoint", join(dir, "truncated.safetensors"), "--prompt", "one"],
    { cwd: dir },
  );
  expect(r.status).toBe(2);
  expect(r.stdout.toString()).toBe(""); // the prompt is not echoed before the checkpoint is checked
  const err = r.stderr.toString().trim().split("\n");
  expect(err).toHaveLength(1);
  expect(err[0]).toMatch(/^mira: checkpoint .*truncated\.safetensors is not a valid safetensors file: .*truncated/);
});
