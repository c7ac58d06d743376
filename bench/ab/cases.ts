// cases.ts (bench/ab): the training steps the A/B benchmarks time (bench/ab/step.ts across checkouts,
// bench/ab/option.ts across compile options): a language model, Mirasol tiny at batch 8 and at E2's
// batch 64 with either Combiner, and the TTM Combiner over 32 chunks at batch 1.
import { loadModel } from "../../api/model.js";
import { type Elaborated, initParams } from "../../compiler/lower.js";
import { DEFAULT_ADAMW, type TrainStepGraph, buildTrainStep } from "../../compiler/train-step.js";
import type { Executor } from "../../runtime/executor.js";

export interface Case {
  readonly label: string;
  readonly file: string;
  readonly preset?: string;
  readonly set?: string[];
  readonly batch: Record<string, number>;
}

export const TTM = "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)";
export const CASES: Case[] = [
  { label: "char_lm B16 T64", file: "models/char_lm.mira", batch: { B: 16, T: 64 } },
  { label: "Mirasol tiny B8 L16", file: "models/mirasol.mira", preset: "tiny", batch: { B: 8, L: 16 } },
  {
    label: "Mirasol tiny TTM, 32 chunks, B1 L16",
    file: "models/mirasol.mira",
    preset: "tiny",
    set: ["chunks=32", "max_chunks=32", TTM],
    batch: { B: 1, L: 16 },
  },
  // E2's configuration (docs/experiments.md): the tiny preset at batch 64, with either Combiner
  { label: "Mirasol tiny B64 L16 (E2)", file: "models/mirasol.mira", preset: "tiny", batch: { B: 64, L: 16 } },
  {
    label: "Mirasol tiny TTM B64 L16 (E2)",
    file: "models/mirasol.mira",
    preset: "tiny",
    set: [TTM],
    batch: { B: 64, L: 16 },
  },
];

/** A case's model elaborated at its batch, and its training step. */
export function trainStepOf(c: Case): { el: Elaborated; st: TrainStepGraph } {
  const el = loadModel(c.file, { preset: c.preset, set: c.set }).elaborate(c.batch);
  return { el, st: buildTrainStep(el.graph, el.objective ?? el.losses[0], DEFAULT_ADAMW, () => true) };
}

/** Parameters from seed 1 and fixed inputs (tokens 3…28, sin(k)/2 for floats), the same in every run. */
export function feed(ex: Executor, el: Elaborated): void {
  for (const [name, v] of initParams(el.params, 1)) ex.write(name, v);
  for (const i of el.inputs) {
    const n = i.shape.reduce((a, b) => a * b, 1);
    ex.write(
      i.name,
      i.dtype === "i32"
        ? Int32Array.from({ length: n }, (_, k) => 3 + ((k * 7) % 26))
        : Float32Array.from({ length: n }, (_, k) => Math.sin(k) * 0.5),
    );
  }
}
