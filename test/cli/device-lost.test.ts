// `mira train` whose GPU device is lost mid-run (MIRA_LOSE_DEVICE_AFTER_STEP, a test hook in
// cli/commands/train.ts that destroys the device): one error line and exit 3, the last checkpoint on disk the
// one an uninterrupted run wrote at that step, and --resume ends on the uninterrupted run's final checkpoint.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { trainText } from "../../api/train.js";
import { loadCheckpoint } from "../../runtime/checkpoint.js";
import { textDataFolder } from "../helpers/text-data.js";

const root = join(import.meta.dirname, "..", "..");
const model = join(root, "models", "char_lm.mira");
const { dir, data } = textDataFolder("mira-lost-");
const size = { preset: "tiny", steps: 12, batch: 4, window: 16, logEvery: 1, evalEvery: 1000, checkpointEvery: 5 };
const flags = (run: string): string[] =>
  [
    ["--data", data],
    ["--preset", size.preset],
    ["--steps", size.steps],
    ["--batch", size.batch],
    ["--window", size.window],
    ["--run", run],
    ["--log-every", size.logEvery],
    ["--eval-every", size.evalEvery],
    ["--checkpoint-every", size.checkpointEvery],
  ].flatMap(([k, v]) => [String(k), String(v)]);
const mira = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(root, "bin", "mira.js"), "train", model, ...args, "--json"], {
    cwd: dir,
    env: { ...process.env, ...env },
  });
const checkpoint = (run: string) => join(dir, "runs", run, "checkpoint.safetensors");

test("a device lost mid-run: one line, exit 3, the last checkpoint intact, --resume ends bit for bit", async () => {
  const straight = mira(flags("straight"));
  expect(straight.status, straight.stderr.toString()).toBe(0);

  const lost = mira(flags("lost"), { MIRA_LOSE_DEVICE_AFTER_STEP: "7" });
  const lines = lost.stderr.toString().trim().split("\n");
  expect(lines).toHaveLength(1); // one line, no stack
  expect(lines[0]).toMatch(/^mira: the GPU device was lost after step 7 \(destroyed.*\); the last checkpoint, /);
  const kept = join("runs", "lost", "checkpoint.safetensors"); // as the run names it: relative to its cwd
  const end = `; the last checkpoint, ${kept} (step 5), is intact: continue with --resume`;
  expect(lines[0].slice(-end.length)).toBe(end);
  expect(lost.status).toBe(3); // README: a GPU device lost mid-run is something this machine lacks

  // The checkpoint an uninterrupted run writes at step 5, taken by stopping one cleanly there.
  let done = 0;
  await trainText({
    ...size,
    model,
    data,
    runsDir: join(dir, "runs"),
    run: "five",
    onProgress: (p) => (done = p.step),
    shouldStop: () => done === 5,
  });
  expect(loadCheckpoint(checkpoint("lost")).metadata.step).toBe("5");
  expect(readFileSync(checkpoint("lost")).equals(readFileSync(checkpoint("five")))).toBe(true);

  const resumed = mira([...flags("lost"), "--resume"]);
  expect(resumed.status, resumed.stderr.toString()).toBe(0);
  expect(loadCheckpoint(checkpoint("lost")).metadata.step).toBe("12");
  expect(readFileSync(checkpoint("lost")).equals(readFileSync(checkpoint("straight")))).toBe(true);
});
