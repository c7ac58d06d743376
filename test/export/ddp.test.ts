// ddp.test.ts: the exported training script on two processes of this CPU (torchrun, gloo, DDP) for a
// few steps of char_lm tiny: both ranks end with identical parameters (train.py all-gathers a SHA-256
// of every parameter's bytes and fails when they differ), and its checkpoint is one that mira reads —
// every tensor `mira train --resume` restores, with the metadata it reads, and text from
// `mira generate`. And it follows mira's own training: same initial weights, data order, AdamW and
// schedule, so the losses of `mira train` on the GPU match step for step.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { exportModel } from "../../api/export.js";
import { generate } from "../../api/generate.js";
import { loadModel } from "../../api/model.js";
import { trainText } from "../../api/train.js";
import { momentName } from "../../compiler/train-step.js";
import { loadCheckpoint } from "../../runtime/checkpoint.js";
import { expectLossesFollowMira, torchrun2 } from "../helpers/ddp.js";

const root = join(import.meta.dirname, "../..");

describe("torchrun of the exported train.py (2 processes, gloo, CPU)", () => {
  let dir: string;
  let stdout = "";
  let ckpt = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mira-export-ddp-"));
    const out = join(dir, "export");
    exportModel({ model: "models/char_lm.mira", preset: "tiny", format: "torch", out });
    const r = torchrun2(
      join(dir, "logs"),
      join(out, "train.py"),
      [
        "--data",
        join(root, "data/prose"),
        "--steps",
        "3",
        "--batch",
        "4",
        "--window",
        "16",
        "--log-every",
        "1",
        "--eval-every",
        "3",
        "--eval-batches",
        "1",
        "--checkpoint-every",
        "3",
        "--run",
        "ddp",
        "--runs-dir",
        join(dir, "runs"),
      ],
      { cwd: root },
    );
    stdout = r.stdout + r.stderr;
    ckpt = join(dir, "runs/ddp/checkpoint.safetensors");
  }, 400_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("both ranks end with identical parameters", () => {
    expect(stdout).toMatch(/2 rank\(s\) × 2 rows \(ddp\)/);
    expect(stdout).toMatch(/step 3\/3 {2}loss \d/);
    expect(stdout).toMatch(/replicas: parameters identical on all 2 ranks/);
  });

  test("the checkpoint holds what mira train --resume restores, with its metadata", () => {
    const c = loadCheckpoint(ckpt);
    const el = loadModel("models/char_lm.mira", { preset: "tiny" }).elaborate({ B: 4, T: 16 });
    for (const p of el.params) {
      for (const name of [p.name, momentName("m", p.name), momentName("v", p.name)]) {
        const t = c.tensors.get(name);
        expect(t, name).toBeDefined();
        expect([t!.dtype, ...t!.shape]).toEqual([p.dtype, ...p.shape]);
      }
    }
    expect(c.tensors.size).toBe(3 * el.params.length);
    const m = c.metadata;
    expect({
      format: m.format,
      model: m.model,
      preset: m.preset,
      overrides: m.overrides,
      window: m.window,
      batch: m.batch,
      step: m.step,
      seed: m.seed,
    }).toEqual({
      format: "mira-checkpoint-1",
      model: "models/char_lm.mira",
      preset: "tiny",
      overrides: "[]",
      window: "16",
      batch: "4",
      step: "3",
      seed: "1",
    });
    expect(m.source_sha256).toBe(loadModel("models/char_lm.mira", { preset: "tiny" }).sourceHash);
    expect(JSON.parse(m.schedule)).toEqual({ steps: 3, lr: 0.003, warmup: 0 });
    expect(JSON.parse(m.tokenizer)).toEqual(expect.any(String));
  });

  test("its losses are mira train's, step for step (|Δ| ≤ 1e-4)", async () => {
    await trainText({
      model: "models/char_lm.mira",
      preset: "tiny",
      data: join(root, "data/prose"),
      steps: 3,
      batch: 4,
      window: 16,
      logEvery: 1,
      evalEvery: 3,
      evalBatches: 1,
      run: "mira",
      runsDir: join(dir, "runs"),
    });
    expectLossesFollowMira(join(dir, "runs"), "ddp", 3);
  }, 300_000);

  test("mira generate decodes from the checkpoint", async () => {
    const r = await generate({ checkpoint: ckpt, prompt: "The ", maxTokens: 12, seed: 3 });
    expect(r.tokens + (r.stoppedBy === "stop-token" ? 1 : 0)).toBeGreaterThan(0);
    expect(typeof r.text).toBe("string");
  }, 300_000);
});
