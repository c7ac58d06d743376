// Training end to end through the library API on the GPU: a step allocates nothing, loss falls,
// generation works, resuming reproduces the uninterrupted run bit for bit, divergence stops cleanly.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { generate, generationContext } from "../../api/generate.js";
import { loadModel } from "../../api/model.js";
import { trainText } from "../../api/train.js";
import { initParams } from "../../compiler/lower.js";
import { DEFAULT_ADAMW } from "../../compiler/train-step.js";
import { loadCheckpoint } from "../../runtime/checkpoint.js";
import { trainBatch } from "../../datasets/text.js";
import { Trainer } from "../../runtime/trainer.js";
import { testGpu } from "../helpers/gpu.js";

const dir = mkdtempSync(join(tmpdir(), "mira-train-"));
const data = join(dir, "text.txt");
const sentences = [
  "the cat sat on the mat. ",
  "a dog ran in the park. ",
  "we like to read books. ",
  "the sun is warm today. ",
];
writeFileSync(data, Array.from({ length: 300 }, (_, i) => sentences[(i * 7) % 4]).join(""));
const base = {
  model: "models/char_lm.mira",
  data,
  preset: "tiny",
  batch: 4,
  window: 16,
  runsDir: dir,
  lr: 1e-2,
  seed: 3,
} as const;

function losses(run: string): Map<number, number> {
  const rows = readFileSync(join(dir, run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { step: number; loss?: number });
  return new Map(rows.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss!]));
}

describe("training", () => {
  test("a step creates no buffers, pipelines or bind groups", async () => {
    const model = loadModel("models/char_lm.mira", { preset: "tiny" });
    const el = model.elaborate({ B: 2, T: 8 });
    const trainer = await Trainer.create(
      await testGpu(),
      { forward: el.graph, loss: "objective", params: el.params },
      DEFAULT_ADAMW,
    );
    trainer.initialize(initParams(el.params, 1));
    const tokens = {
      tokens: trainBatch(
        Int32Array.from({ length: 100 }, (_, i) => (i * 7) % 90),
        1,
        2,
        8,
        1,
      ),
    };
    await trainer.train(1, tokens, 1e-3, true); // first read creates its staging buffers, once
    const before = { ...trainer.step.counts };
    for (let t = 2; t < 8; t++) await trainer.train(t, tokens, 1e-3, t % 2 === 0);
    expect(trainer.step.counts).toEqual(before);
    expect(before.pipelines).toBeLessThan(trainer.dispatchesPerStep); // identical kernels are shared
    trainer.destroy();
  });

  test("the loss falls and the model generates text through the API", async () => {
    const r = await trainText({ ...base, steps: 80, run: "learns", logEvery: 10, evalEvery: 40, checkpointEvery: 40 });
    expect(r.stoppedBy).toBe("done");
    expect(r.initialValLoss).toBeGreaterThan(3);
    expect(r.valLoss!).toBeLessThan(r.initialValLoss! - 1.5);
    const g = await generate({ checkpoint: r.checkpoint, prompt: "the ", maxTokens: 20, temperature: 0.5, seed: 2 });
    expect(g.tokens + (g.stoppedBy === "stop-token" ? 1 : 0)).toBeGreaterThan(0);
    const again = await generate({
      checkpoint: r.checkpoint,
      prompt: "the ",
      maxTokens: 20,
      temperature: 0.5,
      seed: 2,
    });
    expect(again.text).toBe(g.text); // seeded sampling repeats exactly
  });

  test("generation past the window keeps the last window − 1 tokens (positions training predicts from)", () => {
    expect(generationContext([1, 2, 3], 16)).toEqual([1, 2, 3]);
    expect(
      generationContext(
        Array.from({ length: 40 }, (_, i) => i),
        16,
      ),
    ).toEqual(Array.from({ length: 15 }, (_, i) => 25 + i));
  });

  test("resuming from a checkpoint reproduces the uninterrupted run's losses bit for bit", async () => {
    const opts = { ...base, logEvery: 1, evalEvery: 1000, checkpointEvery: 12 };
    await trainText({ ...opts, steps: 36, run: "straight" });
    let done = 0;
    const stopped = await trainText({
      ...opts,
      steps: 36,
      run: "resumed",
      onProgress: (p) => (done = p.step),
      shouldStop: () => done >= 12,
    });
    expect(stopped.stoppedBy).toBe("interrupted");
    await trainText({
      ...opts,
      lr: undefined,
      batch: undefined,
      window: undefined,
      seed: undefined,
      run: "resumed",
      resume: true,
    }); // schedule, batch, window and seed come from the checkpoint
    const a = losses("straight");
    const b = losses("resumed");
    expect(b.size).toBe(36);
    for (let s = 13; s <= 36; s++) expect(b.get(s), `step ${s}`).toBe(a.get(s));
    expect(loadCheckpoint(join(dir, "resumed", "checkpoint.safetensors")).metadata.step).toBe("36");
  });

  test("a diverging run stops with a clear message and keeps the last good checkpoint", async () => {
    const r = await trainText({
      ...base,
      steps: 40,
      run: "diverges",
      lr: 1e30,
      logEvery: 1,
      evalEvery: 1000,
      checkpointEvery: 1000,
      adamw: { clipNorm: Infinity },
    });
    expect(r.stoppedBy).toBe("diverged");
    expect(r.message).toMatch(/training diverged at step \d+ .*last good checkpoint .*lower --lr/);
  });
});
