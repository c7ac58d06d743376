// ddp-av.test.ts: the exported train.py on mira's audio-video QA format, Mirasol tiny: one process
// follows `mira train` step for step (the same questions, normalised spectrograms, AdamW and
// schedule), two processes under torchrun (gloo, CPU) end with identical parameters, and `mira eval`
// reads their checkpoint.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { evaluate } from "../../apps/mirasol/eval.js";
import { exportModel } from "../../api/export.js";
import { train } from "../../apps/mirasol/train-av.js";
import { loadCheckpoint } from "../../runtime/checkpoint.js";
import { synthesize } from "../../datasets/av-build.js";
import { QUESTION_TYPE_NAMES, TINY } from "../../datasets/synth-av.js";
import { expectLossesFollowMira, torchrun2 } from "../helpers/ddp.js";
import { runPython } from "../helpers/torch.js";

describe("the exported train.py on audio-video QA (Mirasol tiny)", () => {
  let dir: string;
  let script: string;
  let data: string;
  const common = [
    "--steps",
    "3",
    "--batch",
    "4",
    "--log-every",
    "1",
    "--eval-every",
    "3",
    "--eval-batches",
    "1",
    "--checkpoint-every",
    "3",
  ];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mira-export-av-"));
    data = join(dir, "data");
    synthesize({ out: data, clips: 40, seed: 4, config: TINY });
    exportModel({ model: "models/mirasol.mira", preset: "tiny", format: "torch", out: join(dir, "export") });
    script = join(dir, "export/train.py");
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("one process follows mira train step for step (|Δ| ≤ 1e-4)", async () => {
    runPython([script, "--data", data, ...common, "--run", "torch", "--runs-dir", join(dir, "runs")]);
    await train({
      model: "models/mirasol.mira",
      preset: "tiny",
      data,
      steps: 3,
      batch: 4,
      logEvery: 1,
      evalEvery: 3,
      evalBatches: 1,
      run: "mira",
      runsDir: join(dir, "runs"),
    });
    expectLossesFollowMira(join(dir, "runs"), "torch", 3);
  }, 300_000);

  test("two ranks under torchrun end identical, and mira eval reads the checkpoint", async () => {
    const r = torchrun2(join(dir, "logs"), script, [
      "--data",
      data,
      ...common,
      "--run",
      "ddp",
      "--runs-dir",
      join(dir, "runs"),
    ]);
    expect(r.stdout).toMatch(/replicas: parameters identical on all 2 ranks/);
    const ckpt = join(dir, "runs/ddp/checkpoint.safetensors");
    const meta = loadCheckpoint(ckpt).metadata;
    expect({ kind: meta.kind, data: meta.data, step: meta.step, batch: meta.batch }).toEqual({
      kind: "av-qa",
      data,
      step: "3",
      batch: "4",
    });
    const e = await evaluate({ checkpoint: ckpt, split: "val" });
    expect(e.accuracy.map((a) => a.type).sort()).toEqual([...QUESTION_TYPE_NAMES].sort());
  }, 300_000);
});
