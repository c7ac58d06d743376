// fit.ts (api): whether a model fits a device's limits, for inference (the forward pass) and for
// training (the training step), found the way `mira compile` finds it: by compiling for those limits,
// which allocates no GPU buffers and either succeeds or stops at the first LimitError. For a model too
// large to compile quickly, the same question is answered from its elaborated sizes instead (estimate).
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Graph } from "../compiler/ir.js";
import { type DeviceLimits, LimitError, formatBytes } from "../compiler/limits.js";
import type { Elaborated } from "../compiler/lower.js";
import { compileGraph } from "../compiler/program.js";
import { memorySplit } from "../compiler/report.js";
import { bytesOf } from "../compiler/schedule.js";
import { defaultTrainStep, trainableModel } from "../compiler/train-model.js";
import { DEFAULT_ADAMW } from "../compiler/train-step.js";
import { windowBytes, windowCount } from "../compiler/wgsl/windows.js";
import { type LoadedModel, ModelError, loadModel } from "./model.js";

export type FitStep = "forward" | "train";

export interface Fit {
  readonly step: FitStep;
  readonly fits: boolean;
  /** the first limit the step runs into (a LimitError's message), when it does not fit */
  readonly reason?: string;
  /** "compiled": for the limits, as `mira compile --limits` would; "estimated": from elaborated sizes */
  readonly how: "compiled" | "estimated";
  /** peak bytes of the program's buffers, when compiled and it fits */
  readonly peakBytes?: number;
}

/** Compiles one step of an elaborated model for `limits`; a LimitError is a "does not fit". */
export function fitByCompiling(el: Elaborated, limits: DeviceLimits, step: FitStep): Fit {
  try {
    let program;
    if (step === "train") {
      const loss = el.objective ?? el.losses[0];
      if (!loss) throw new ModelError("the model declares no loss or objective, so it has no training step");
      const st = defaultTrainStep(trainableModel(el, loss), DEFAULT_ADAMW);
      program = compileGraph(st.graph, limits, { updates: st.updates });
    } else program = compileGraph(el.graph, limits);
    return { step, fits: true, how: "compiled", peakBytes: memorySplit(program).total };
  } catch (e) {
    if (e instanceof LimitError) return { step, fits: false, reason: e.message.split("\n")[0], how: "compiled" };
    throw e;
  }
}

/** Without compiling: every parameter and every value of the forward graph must fit one buffer, and be
 *  bound as few enough windows past the binding size that a kernel can bind it and one more value (a
 *  training step's gradients and moments have the shapes of those, so the same test answers both); f16
 *  needs shader-f16. Pessimistic where a kernel never materializes a value (flash attention's scores), so
 *  a "does not fit" here is worth confirming with `mira compile --limits`. */
export function fitByEstimate(el: Elaborated, limits: DeviceLimits, step: FitStep): Fit {
  const reason = firstOversize(el.graph, limits);
  return { step, fits: reason === undefined, how: "estimated", ...(reason ? { reason } : {}) };
}

function firstOversize(g: Graph, limits: DeviceLimits): string | undefined {
  const ordered = [...g.nodes.filter((n) => n.op === "param"), ...g.nodes.filter((n) => n.op !== "param")];
  for (const n of ordered) {
    if (n.dtype === "f16" && !limits.shaderF16)
      return "f16 needs adapter feature 'shader-f16', which this device lacks";
    const bytes = bytesOf(n);
    const windows = windowCount(bytes, limits.maxStorageBufferBindingSize);
    if (bytes <= limits.maxBufferSize && windows < limits.maxStorageBuffersPerShaderStage) continue;
    const what = n.attrs.name ? `${n.op} '${n.attrs.name}'` : n.op;
    const tensor = `tensor %${n.id} ${n.dtype}[${n.shape.join(", ")}] (${what}) needs ${formatBytes(bytes)}`;
    if (bytes > limits.maxBufferSize)
      return `${tensor}, but a buffer on this device holds at most ${formatBytes(limits.maxBufferSize)}`;
    return (
      `${tensor}: ${windows} windows of ${formatBytes(windowBytes(limits.maxStorageBufferBindingSize))}, ` +
      `more than a kernel binds beside another value on this device (${limits.maxStorageBuffersPerShaderStage})`
    );
  }
  return undefined;
}

/** A fit within the limits, judged against the device's memory too where it is known (a software
 *  adapter's buffers live in this machine's memory; WebGPU tells nothing of a GPU's). */
function withinMemory(f: Fit, memoryBytes: number | undefined): Fit {
  if (!f.fits || memoryBytes === undefined || f.peakBytes === undefined || f.peakBytes <= memoryBytes) return f;
  const [needs, has] = [formatBytes(f.peakBytes), formatBytes(memoryBytes)];
  const reason = `needs ${needs} of buffers, but this device has ${has} of memory`;
  return { ...f, fits: false, reason };
}

/** A model of models/ at one preset, with the batch a fit is judged at. */
export interface FitCase {
  readonly label: string;
  readonly file: string;
  readonly preset?: string;
  readonly batch: Readonly<Record<string, number>>;
  /** decide from elaborated sizes rather than by compiling (see PRESET_CASES) */
  readonly estimate?: boolean;
}

/** models/ beside the package: one folder up from api/ (source) or lib/ (the bundle), two from dist/api/. */
const MODELS = [join(import.meta.dirname, "..", "models"), join(import.meta.dirname, "..", "..", "models")];
const model = (name: string): string => join(MODELS.find((d) => existsSync(join(d, name))) ?? MODELS[0], name);

/** The presets `mira doctor` judges, one sequence each (batch 1; char_lm at its full context, Mirasol
 *  with 16 text tokens, within tiny's 32 positions). Each compiles in seconds, 3b included (about 16 s for its
 *  forward pass on a 2-core machine), so all of them are compiled, not estimated. */
export const PRESET_CASES: readonly FitCase[] = [
  { label: "char_lm (default)", file: model("char_lm.mira"), batch: { B: 1, T: 256 } },
  { label: "mirasol tiny", file: model("mirasol.mira"), preset: "tiny", batch: { B: 1, L: 16 } },
  { label: "mirasol (default)", file: model("mirasol.mira"), batch: { B: 1, L: 16 } },
  { label: "mirasol 3b", file: model("mirasol.mira"), preset: "3b", batch: { B: 1, L: 16 } },
];

export interface CaseFit {
  readonly label: string;
  readonly batch: Readonly<Record<string, number>>;
  readonly params: number;
  readonly forward: Fit;
  readonly train: Fit;
  readonly seconds: number;
}

/** Forward and training step of one case against `limits`: elaborated once, then compiled (or estimated). */
export function fitCase(c: FitCase, limits: DeviceLimits, loaded?: LoadedModel, memoryBytes?: number): CaseFit {
  const started = performance.now();
  const el = (loaded ?? loadModel(c.file, { preset: c.preset })).elaborate(c.batch);
  const judge = c.estimate ? fitByEstimate : fitByCompiling;
  const forward = withinMemory(judge(el, limits, "forward"), memoryBytes);
  const train = withinMemory(judge(el, limits, "train"), memoryBytes);
  const seconds = (performance.now() - started) / 1000;
  return { label: c.label, batch: c.batch, params: el.paramCount, forward, train, seconds };
}
