// profile.ts (api): `profileModel(file, …)` — a model's training step (or forward pass) compiled as
// `mira train` would compile it, run on the local adapter with stand-in inputs, and its device time
// split by kernel and by kind of kernel (runtime/profile.ts). `mira bench --profile FILE` prints it.
import { cpus, loadavg } from "node:os";
import { DEFAULT_ADAMW, stepScalars } from "../compiler/train-step.js";
import { adapterName, getGpu } from "../runtime/device.js";
import { type FamilyTime, type KernelTime, summarise, timeDispatches } from "../runtime/profile.js";
import { standInValues } from "../runtime/stand-in.js";
import { time } from "../runtime/timing.js";
import { compileFile } from "./compile.js";
import type { AutotuneModelOptions } from "./autotune.js";

/** The model, batch, step and runs as for autotuning, and whether to fuse. */
export interface ProfileOptions extends Omit<AutotuneModelOptions, "onProgress"> {
  readonly fuse?: boolean;
}

export interface ProfileReport {
  readonly adapter: string;
  readonly dispatches: number;
  /** median wall time of one submit of the whole program, read-back of one output included */
  readonly submitMs: number;
  /** sum of the per-dispatch device times (each dispatch in its own pass) */
  readonly deviceMs: number;
  readonly kernels: readonly KernelTime[];
  readonly families: readonly FamilyTime[];
  readonly loadAverage: readonly number[];
  readonly cores: number;
}

export async function profileModel(file: string, o: ProfileOptions): Promise<ProfileReport> {
  const gpu = await getGpu();
  const step = o.step ?? "train";
  const compiled = await compileFile(file, { preset: o.preset, set: o.set, batch: o.batch, step, fuse: o.fuse });
  const session = await compiled.load(gpu);
  try {
    const ex = session.executor;
    const program = ex.program;
    const scalars = step === "train" ? stepScalars(DEFAULT_ADAMW, 1, 1e-4) : {};
    for (const t of program.inputs) {
      const scalar = scalars[t.name];
      ex.write(
        t.name,
        scalar !== undefined
          ? [scalar]
          : standInValues(
              t.name,
              t.dtype,
              t.shape.reduce((a, b) => a * b, 1),
            ),
      );
    }
    const firstOutput = program.outputs.slice(0, 1).map((t) => t.name);
    const submit = await time(() => ex.run(firstOutput), { warmup: 2, runs: o.runs ?? 5 });
    const ms = await timeDispatches(gpu, ex, o.runs ?? 5);
    const { kernels, families } = summarise(
      program.kernels.map((k) => k.name),
      program.dispatches.map((d) => d.kernel),
      ms,
    );
    return {
      adapter: adapterName(gpu.adapter),
      dispatches: program.dispatches.length,
      submitMs: submit.medianMs,
      deviceMs: ms.reduce((a, b) => a + b, 0),
      kernels,
      families,
      loadAverage: loadavg(),
      cores: cpus().length,
    };
  } finally {
    session.destroy();
  }
}
