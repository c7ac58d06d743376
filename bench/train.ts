// train.ts (bench): a training step of a model, fused against unfused — dispatches per step, bytes the
// kernels bind (whole buffers read and written: an upper bound on the bytes moved), buffer bytes, step
// time (median, each step ended by reading the loss back) and tokens per second.
import type { LoadedModel } from "../api/model.js";
import { initParams } from "../compiler/lower.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../compiler/train-step.js";
import { compileGraph } from "../compiler/program.js";
import type { Gpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { decaysByDefault } from "../compiler/train-model.js";
import { Table, time } from "./harness.js";
import { formatBytes } from "../compiler/limits.js";
import { programBytes } from "../compiler/arenas.js";

export interface StepCase {
  readonly label: string;
  readonly model: LoadedModel;
  readonly batch: Readonly<Record<string, number>>;
  /** values for every input, by name */
  readonly inputs: (shapes: ReadonlyMap<string, readonly number[]>) => Record<string, ArrayLike<number>>;
  /** tokens per step, for tokens/s (0: not a token model) */
  readonly tokens: number;
}

export async function benchTrainStep(gpu: Gpu, cases: readonly StepCase[]): Promise<Table> {
  const table = new Table("training step", [
    "model",
    "fusion",
    "dispatches/step",
    "bytes bound/step",
    "buffers",
    "median ms/step",
    "tokens/s",
  ]);
  for (const c of cases) {
    const el = c.model.elaborate(c.batch);
    const loss = el.objective ?? el.losses[0];
    const shapes = new Map(el.params.map((p) => [p.name, p.shape]));
    const st = buildTrainStep(el.graph, loss, DEFAULT_ADAMW, (n) => decaysByDefault(shapes.get(n) ?? []));
    const inputs = c.inputs(new Map(el.inputs.map((i) => [i.name, i.shape])));
    for (const fuse of [true, false]) {
      const program = compileGraph(st.graph, gpu.limits, { updates: st.updates, fuse });
      const ex = await Executor.create(gpu, program);
      for (const [name, v] of initParams(el.params, 1)) ex.write(name, v);
      for (const p of el.params) {
        ex.write(`opt.m.${p.name}`, new Float32Array(v(p.shape)));
        ex.write(`opt.v.${p.name}`, new Float32Array(v(p.shape)));
      }
      for (const [name, val] of Object.entries(inputs)) ex.write(name, val);
      let t = 0;
      const step = async (): Promise<void> => {
        t++;
        for (const [name, val] of Object.entries(stepScalars(DEFAULT_ADAMW, t, 1e-3))) ex.write(name, [val]);
        await ex.run(["step.loss"]);
      };
      const timing = await time(step, { warmup: 2, runs: 5 });
      const bytes = programBytes(program.buffers);
      const bound = program.dispatches.reduce(
        (s, d) => s + d.buffers.reduce((t, b) => t + program.buffers[b].bytes, 0),
        0,
      );
      table.add([
        c.label,
        fuse ? "fused" : "--no-fuse",
        program.dispatches.length,
        formatBytes(bound),
        formatBytes(bytes),
        timing.medianMs,
        c.tokens ? Math.round((c.tokens / timing.medianMs) * 1000) : "-",
      ]);
      ex.destroy();
    }
  }
  return table;
}

const v = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
