// trainer.ts: a model on the device for training — one compiled step program (forward, backward,
// clipping and AdamW; built by compiler/train-model.ts) and one evaluation program that shares its
// parameter buffers. After creation nothing is allocated per step: each step writes the batch and three scalars
// and submits once. Knows nothing of .mira: it takes an IR graph and parameter list.
import { type TrainableModel, defaultTrainStep, lossGraph } from "../compiler/train-model.js";
import { type AdamWConfig, LOSS_SCALE, STEP_OUTPUTS, momentName, stepScalars } from "../compiler/train-step.js";
import { CheckpointError, type StoredTensor } from "./checkpoint.js";
import { compileFor } from "./autotune-cache.js";
import type { Gpu } from "./device.js";
import { Executor } from "./executor.js";
import { bug } from "../base/errors.js";
import { programBytes } from "../compiler/arenas.js";

/** Values for a model's inputs, by input name. */
export type Batch = Readonly<Record<string, ArrayLike<number>>>;

export interface StepResult {
  readonly loss: number;
  readonly gradNorm: number;
  /** with loss scaling (mixed precision): the scale this step used, and whether its gradients overflowed
   *  f16 at that scale, so that AdamW skipped it and the scale halved (not a divergence while it is > 1) */
  readonly lossScale?: number;
  readonly skipped?: boolean;
}

export class Trainer {
  private constructor(
    readonly model: TrainableModel,
    readonly adamw: AdamWConfig,
    readonly step: Executor,
    readonly evaluate: Executor,
  ) {}

  static async create(gpu: Gpu, model: TrainableModel, adamw: AdamWConfig): Promise<Trainer> {
    const st = defaultTrainStep(model, adamw);
    const step = await Executor.create(gpu, compileFor(gpu, st.graph, { updates: st.updates }));
    // the step's weights may sit in its arenas; the evaluation binds them at their offsets, so it keeps
    // every buffer of its own (a shared weight cannot also be a member of its arena: executor.ts)
    const evaluate = await Executor.create(gpu, compileFor(gpu, lossGraph(model), { arenas: false }), { share: step });
    return new Trainer(model, adamw, step, evaluate);
  }

  /** Names of everything a checkpoint must hold to resume: parameters, both AdamW moments and, with loss
   *  scaling, its state. */
  get stateNames(): string[] {
    const scaling = this.model.lossScale ? [LOSS_SCALE.exponent, LOSS_SCALE.finiteSteps] : [];
    return [
      ...this.model.params.flatMap((p) => [p.name, momentName("m", p.name), momentName("v", p.name)]),
      ...scaling,
    ];
  }

  get dispatchesPerStep(): number {
    return this.step.program.dispatches.length;
  }

  /** Bytes of all buffers of the step program (no reuse yet: the memory planner is its own issue). */
  get bufferBytes(): number {
    return programBytes(this.step.program.buffers);
  }

  initialize(values: ReadonlyMap<string, Float32Array>): void {
    writeInitialState(
      this.step,
      this.model.params.map((p) => p.name),
      values,
    );
  }

  /** Step t (1-based) on `batch` at learning rate lr; reads the loss back only when `read`. */
  async train(t: number, batch: Batch, lr: number, read: boolean): Promise<StepResult | undefined> {
    for (const [name, values] of Object.entries(batch)) this.step.write(name, values);
    for (const [name, v] of Object.entries(stepScalars(this.adamw, t, lr))) this.step.write(name, [v]);
    const scaled = this.model.lossScale === true;
    const names = [STEP_OUTPUTS.loss, STEP_OUTPUTS.gradNorm, ...(scaled ? [STEP_OUTPUTS.lossScale] : [])];
    const out = await this.step.run(read ? names : []);
    if (!read) return undefined;
    const [loss, gradNorm] = [out[STEP_OUTPUTS.loss][0], out[STEP_OUTPUTS.gradNorm][0]];
    if (!scaled) return { loss, gradNorm };
    const lossScale = out[STEP_OUTPUTS.lossScale][0];
    return { loss, gradNorm, lossScale, skipped: Number.isFinite(loss) && !Number.isFinite(gradNorm) && lossScale > 1 };
  }

  /** Mean loss over fixed batches, with the current parameters. */
  async evalLoss(batches: readonly Batch[]): Promise<number> {
    let sum = 0;
    for (const b of batches) {
      for (const [name, values] of Object.entries(b)) this.evaluate.write(name, values);
      sum += (await this.evaluate.run([this.model.loss]))[this.model.loss][0];
    }
    return sum / batches.length;
  }

  /** Parameters and moments exactly as stored on the device. */
  async snapshot(): Promise<Map<string, StoredTensor>> {
    const out = new Map<string, StoredTensor>();
    for (const name of this.stateNames) {
      const t = this.step.tensor(name);
      const bytes = new Uint8Array(await this.step.readBytes(name));
      const n = t.shape.reduce((a, d) => a * d, 1) * (t.dtype === "f16" ? 2 : 4);
      out.set(name, { dtype: t.dtype, shape: t.shape, bytes: bytes.slice(0, n) });
    }
    return out;
  }

  restore(tensors: ReadonlyMap<string, StoredTensor>): void {
    for (const name of this.stateNames) {
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(`the checkpoint has no tensor '${name}'; was it saved from another model?`);
      const want = this.step.tensor(name);
      if (t.dtype !== want.dtype || t.shape.join(",") !== want.shape.join(",")) {
        throw new CheckpointError(
          `checkpoint tensor '${name}' is ${t.dtype}[${t.shape.join(", ")}] ` +
            `but the model needs ${want.dtype}[${want.shape.join(", ")}]; was it saved with another preset or --set?`,
        );
      }
      this.step.writeBytes(name, t.bytes);
    }
  }

  destroy(): void {
    this.evaluate.destroy();
    this.step.destroy();
  }
}

/** Writes a training step's starting state: each parameter's initial value and zero AdamW moments. */
export function writeInitialState(
  step: Executor,
  params: readonly string[],
  values: ReadonlyMap<string, Float32Array>,
): void {
  for (const name of params) {
    const v = values.get(name);
    if (!v) bug(`no initial value for parameter '${name}'`);
    step.write(name, v);
    const zeros = new Float32Array(v.length);
    step.write(momentName("m", name), zeros);
    step.write(momentName("v", name), zeros);
  }
}
