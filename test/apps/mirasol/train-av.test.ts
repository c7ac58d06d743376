// Training Mirasol (tiny) on a small synthetic audio-video QA set through the API: the step runs, the
// loss falls, checkpoints record the data kind, and evaluation reports every question type beside chance.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { compileFile } from "../../../api/compile.js";
import { evaluate } from "../../../apps/mirasol/eval.js";
import type { AvTrainResult } from "../../../apps/mirasol/train-av.js";
import { loadCheckpoint } from "../../../runtime/checkpoint.js";
import { synthesize } from "../../../datasets/av-build.js";
import { QUESTION_TYPE_NAMES, TINY } from "../../../datasets/synth-av.js";
import { trainTinyMirasol } from "../../helpers/mirasol.js";

test("tiny Mirasol trains on synthetic audio-video QA and is evaluated per question type", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mira-av-"));
  const data = join(dir, "data");
  synthesize({ out: data, clips: 60, seed: 4, config: TINY });
  const r = await trainTinyMirasol({ data, steps: 12, runsDir: dir, run: "av", logEvery: 4, evalBatches: 2 });
  expect(r.stoppedBy).toBe("done");
  expect(r.valLoss!).toBeLessThan(r.initialValLoss!);
  // It learned something, not just moved: 12 steps take the val loss from ≈ 4.4 to ≈ 2.0 nats, a nat and a half
  // below guessing uniformly over the vocabulary (ln 35 ≈ 3.56; the templates' words are predictable). Per-type
  // accuracy is still at chance this early (6–12 questions a type), so the loss is what this cheap run can check.
  expect(r.baselines.lnVocab).toBeCloseTo(Math.log(35), 6);
  expect(r.valLoss!).toBeLessThan(r.baselines.lnVocab - 1);
  // its cost is the compile report's for the same training step
  const report = (
    await compileFile("models/mirasol.mira", { preset: "tiny", batch: { B: 4, L: 16 }, step: "train" })
  ).report();
  expect((r as AvTrainResult).flopsPerStep).toBe(report.flops);
  expect((r as AvTrainResult).params).toBe(report.params);
  const meta = loadCheckpoint(r.checkpoint).metadata;
  expect(meta.kind).toBe("av-qa");
  const e = await evaluate({ checkpoint: r.checkpoint, split: "val" });
  expect(e.accuracy.map((a) => a.type).sort()).toEqual([...QUESTION_TYPE_NAMES].sort());
  for (const a of e.accuracy) {
    expect(a.accuracy).toBeGreaterThanOrEqual(0);
    expect(a.accuracy).toBeLessThanOrEqual(1);
    expect(a.chance).toBeGreaterThan(0);
    expect(a.questions).toBeGreaterThan(0);
  }
}, 600_000);
