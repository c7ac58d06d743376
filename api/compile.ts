// compile.ts (api): `compile(source, { preset, set, batch })` — a .mira model checked, elaborated for
// batch sizes and compiled for a device's limits into a program that `load()` puts on the GPU.
import type { DeviceLimits } from "../compiler/limits.js";
import { DEFAULT_LIMITS } from "../compiler/limits.js";
import { type Elaborated, initParams } from "../compiler/lower.js";
import { type Program, compileGraph } from "../compiler/program.js";
import { type ProgramReport, memorySplit, reportProgram } from "../compiler/report.js";
import { type RematMemory, type RematReport, peakAlive } from "../compiler/report-remat.js";
import { rematRegions } from "../compiler/remat.js";
import { type TrainableModel, defaultTrainStep, trainableModel } from "../compiler/train-model.js";
import { DEFAULT_ADAMW } from "../compiler/train-step.js";
import type { TuningTable } from "../compiler/autotune.js";
import { tuningFor } from "../runtime/autotune-cache.js";
import { type Gpu, getGpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { type LoadedModel, ModelError, type ModelOptions, loadModel, modelFromSource } from "./model.js";
import { InputError } from "../base/errors.js";

export interface CompileOptions extends ModelOptions {
  /** sizes of the batch dims the inputs name, e.g. { B: 2, T: 16 } */
  readonly batch: Readonly<Record<string, number>>;
  /** file name for diagnostics and import resolution (default "model.mira" in the current directory) */
  readonly file?: string;
  readonly fuse?: boolean;
  /** merge independent consecutive dispatches into one (compiler/parallel.ts; default true) */
  readonly parallel?: boolean;
  /** compile for these limits (default: the local adapter's, else WebGPU's defaults) */
  readonly limits?: DeviceLimits;
  /** "train": the training step (forward, backward, AdamW) instead of the forward pass */
  readonly step?: "forward" | "train";
  /** the training step recomputes each block's activations in the backward pass instead of keeping them
   *  (compiler/remat.ts); default: the model's config key `remat`, else off */
  readonly remat?: boolean;
}

export interface CompiledModel {
  readonly model: LoadedModel;
  readonly elaborated: Elaborated;
  readonly program: Program;
  report(): ProgramReport;
  /** Puts the program on the device; parameters start from the model's initialisers (seed 0). */
  load(gpu?: Gpu): Promise<ModelSession>;
}

/** A compiled model on the device: set parameters, run with inputs, read outputs. */
export class ModelSession {
  constructor(
    readonly compiled: CompiledModel,
    readonly executor: Executor,
  ) {}

  /** Parameters from the model's initialisers with this seed. */
  initParams(seed = 0): void {
    for (const [name, v] of initParams(this.compiled.elaborated.params, seed)) this.executor.write(name, v);
  }

  setParam(name: string, values: ArrayLike<number>): void {
    this.executor.write(name, values);
  }

  /** Runs once with these inputs; resolves with the outputs asked for (default: all). */
  async run(
    inputs: Readonly<Record<string, ArrayLike<number>>>,
    outputs?: readonly string[],
  ): Promise<Record<string, Float64Array>> {
    for (const t of this.executor.program.inputs) {
      const v = inputs[t.name];
      if (!v) throw new InputError(`missing input '${t.name}' (${t.dtype}[${t.shape.join(", ")}]); pass it to run`);
      this.executor.write(t.name, v);
    }
    return this.executor.run(outputs);
  }

  destroy(): void {
    this.executor.destroy();
  }
}

interface Target {
  readonly limits: DeviceLimits;
  readonly tuning?: TuningTable;
}

/** The local adapter's limits and matmul tuning table (when measured), else WebGPU's defaults; limits
 *  the caller names compile untuned (a table belongs to one adapter). */
async function target(o: CompileOptions): Promise<Target> {
  if (o.limits) return { limits: o.limits };
  try {
    const gpu = await getGpu();
    return { limits: gpu.limits, tuning: tuningFor(gpu) };
  } catch {
    return { limits: DEFAULT_LIMITS };
  }
}

function compileLoaded(
  model: LoadedModel,
  el: Elaborated,
  { limits, tuning }: Target,
  o: CompileOptions,
): CompiledModel {
  let program: Program;
  let remat: (() => RematReport) | undefined;
  if (o.step === "train") {
    const loss = el.objective ?? el.losses[0];
    if (!loss) throw new ModelError("the model declares no loss or objective, so it has no training step");
    const step = (m: TrainableModel): Program => {
      const st = defaultTrainStep(m, DEFAULT_ADAMW);
      return compileGraph(st.graph, limits, { fuse: o.fuse, parallel: o.parallel, updates: st.updates, tuning });
    };
    const m = trainableModel(el, loss, o.remat);
    program = step(m);
    const trained = program;
    // with remat on, the report compiles the step again without it, to say what it saves
    remat = () => ({
      blocks: rematRegions(el).length,
      on: m.remat !== undefined,
      ...(m.remat ? { without: rematMemory(step({ ...m, remat: undefined })), with: rematMemory(trained) } : {}),
    });
  } else program = compileGraph(el.graph, limits, { fuse: o.fuse, parallel: o.parallel, tuning });
  const compiled: CompiledModel = {
    model,
    elaborated: el,
    program,
    report: () => ({ ...reportProgram(program), ...(remat ? { remat: remat() } : {}) }),
    load: async (gpu) => {
      const g = gpu ?? (await getGpu());
      const session = new ModelSession(compiled, await Executor.create(g, program));
      session.initParams(0);
      return session;
    },
  };
  return compiled;
}

const rematMemory = (p: Program): RematMemory => ({ buffers: memorySplit(p), alive: peakAlive(p) });

/** Compiles .mira source text. */
export async function compile(source: string, o: CompileOptions): Promise<CompiledModel> {
  const model = modelFromSource(source, o.file ?? "model.mira", o);
  return compileLoaded(model, model.elaborate(o.batch), await target(o), o);
}

/** Compiles a .mira file. */
export async function compileFile(path: string, o: CompileOptions): Promise<CompiledModel> {
  const model = loadModel(path, o);
  return compileLoaded(model, model.elaborate(o.batch), await target(o), o);
}
