// train-steps.ts: a compiled training-step program run for a few steps on the GPU from the initial
// weights (seed 1) — what the tests comparing two ways of compiling one step (optimizer forms, remat,
// windows) each ran for themselves.
import type { ParamInfo } from "../../compiler/lower.js";
import { initParams } from "../../compiler/lower.js";
import type { Program } from "../../compiler/program.js";
import { DEFAULT_ADAMW, STEP_OUTPUTS, stepScalars } from "../../compiler/train-step.js";
import type { Gpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { writeInitialState } from "../../runtime/trainer.js";

/** The loss of each of `steps` steps at lr 1e-2 on the same `feeds`, then the parameters after them. */
export async function trainSteps(
  gpu: Gpu,
  program: Program,
  params: readonly ParamInfo[],
  feeds: Readonly<Record<string, ArrayLike<number>>>,
  steps: number,
): Promise<{ losses: number[]; params: Record<string, Float64Array> }> {
  const ex = await Executor.create(gpu, program);
  try {
    writeInitialState(
      ex,
      params.map((p) => p.name),
      initParams(params, 1),
    );
    for (const [name, v] of Object.entries(feeds)) ex.write(name, v);
    const losses: number[] = [];
    for (let t = 1; t <= steps; t++) {
      for (const [name, v] of Object.entries(stepScalars(DEFAULT_ADAMW, t, 1e-2))) ex.write(name, [v]);
      losses.push((await ex.run([STEP_OUTPUTS.loss]))[STEP_OUTPUTS.loss][0]);
    }
    return { losses, params: await ex.read(params.map((p) => p.name)) };
  } finally {
    ex.destroy();
  }
}
