// train-loop.ts: the training loop around a Trainer — learning-rate schedule (linear warm-up, cosine
// decay), loss read back every `logEvery` steps (not every step), evaluation every `evalEvery`,
// metrics appended to a JSONL file, atomic checkpoints, a clean stop on request, and a stop with the
// last good checkpoint kept when the loss or gradient stops being finite. A lost device or a checkpoint
// that cannot be written ends the run with one error naming the checkpoint that is kept.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import {
  type Checkpoint,
  CheckpointWriteError,
  type StoredTensor,
  type WriteHooks,
  saveCheckpoint,
} from "./checkpoint.js";
import { DeviceLostError, lostInfo } from "./device.js";
import type { Batch, Trainer } from "./trainer.js";

/** Where a run's batches come from: a pure function of the step (so resuming needs only the step),
 *  and fixed validation batches. */
export interface DataSource {
  train(step: number): Batch;
  readonly val: readonly Batch[];
  /** tokens (or examples) per training batch, for throughput */
  readonly itemsPerBatch: number;
}

export interface Schedule {
  readonly lr: number;
  readonly warmup: number;
  readonly steps: number;
  readonly minLrFraction: number;
}

/** Linear warm-up to `lr` over `warmup` steps, then cosine decay to lr·minLrFraction at `steps`. */
export function lrAt(s: Schedule, t: number): number {
  if (t <= s.warmup) return (s.lr * t) / Math.max(1, s.warmup);
  const progress = Math.min(1, (t - s.warmup) / Math.max(1, s.steps - s.warmup));
  const min = s.lr * s.minLrFraction;
  return min + (s.lr - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export interface LoopOptions extends Schedule {
  readonly seed: number;
  readonly logEvery: number;
  readonly evalEvery: number;
  readonly checkpointEvery: number;
  readonly checkpointPath: string;
  readonly metricsPath: string;
  /** strings stored in every checkpoint (model, preset, overrides, source hash, tokenizer, …) */
  readonly metadata: Readonly<Record<string, string>>;
  /** the last step already done (resuming); 0 for a new run */
  readonly startStep: number;
  /** how checkpoint files are written (tests fail the disk here) */
  readonly writeHooks?: WriteHooks;
}

export interface Progress {
  readonly step: number;
  readonly steps: number;
  readonly loss?: number;
  readonly valLoss?: number;
  readonly tokensPerSecond: number;
  readonly etaSeconds: number;
}

export type StopReason = "done" | "interrupted" | "diverged";

export interface LoopResult {
  readonly lastStep: number; // last step whose update was applied and kept
  readonly checkpointStep: number;
  readonly stoppedBy: StopReason;
  readonly lastLoss?: number;
  readonly valLoss?: number;
  readonly message?: string;
  readonly stepMs: number; // mean wall time per step
}

export interface LoopHooks {
  onProgress?(p: Progress): void;
  /** polled between steps; true stops the run cleanly after a checkpoint */
  shouldStop?(): boolean;
}

export const STEP_KEY = "step";

/** Keeps metrics lines up to `step` (a resumed run rewrites what came after its checkpoint). */
function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.map((l) => l + "\n").join(""));
}

export async function trainLoop(
  trainer: Trainer,
  data: DataSource,
  o: LoopOptions,
  hooks: LoopHooks = {},
): Promise<LoopResult> {
  truncateMetrics(o.metricsPath, o.startStep);
  let checkpointStep = o.startStep;
  let t = o.startStep;
  const kept = (): string =>
    checkpointStep > 0
      ? `the last checkpoint, ${o.checkpointPath} (step ${checkpointStep}), is intact: continue with --resume`
      : `no checkpoint was saved yet: run it again`;
  try {
    return await loop();
  } catch (e) {
    const lost = await lostInfo(trainer.step.gpu, e instanceof CheckpointWriteError ? 0 : 500);
    if (lost) {
      const why = `${lost.reason}${lost.message ? `: ${lost.message}` : ""}`;
      throw new DeviceLostError(`the GPU device was lost after step ${t} (${why}); ${kept()}`);
    }
    if (e instanceof CheckpointWriteError) {
      throw new CheckpointWriteError(
        `step ${t}'s checkpoint was not saved: ${e.message}; ${kept()} once there is room`,
      );
    }
    throw e;
  }

  async function save(step: number): Promise<void> {
    const tensors: Map<string, StoredTensor> = await trainer.snapshot();
    const ckpt: Checkpoint = { tensors, metadata: { ...o.metadata, [STEP_KEY]: String(step), seed: String(o.seed) } };
    saveCheckpoint(o.checkpointPath, ckpt, o.writeHooks);
  }

  async function loop(): Promise<LoopResult> {
    const log = (entry: Record<string, number>): void => appendFileSync(o.metricsPath, JSON.stringify(entry) + "\n");
    const started = performance.now();
    let lastLoss: number | undefined;
    let valLoss: number | undefined;
    const tokensPerStep = data.itemsPerBatch;
    // Speed is measured between steps whose results were read back (the GPU has finished them; unread
    // steps are only queued), over the latest such interval: the first steps, slowed by the driver's
    // shader compilation, do not weigh on the figure for the rest of the run.
    let mark = { step: o.startStep, at: started };
    let recentMs = NaN;
    const stepMs = (): number =>
      Number.isFinite(recentMs) ? recentMs : (performance.now() - started) / Math.max(1, t - o.startStep);
    const rate = (): number => (Number.isFinite(recentMs) ? (tokensPerStep * 1000) / recentMs : NaN);
    while (t < o.steps) {
      if (hooks.shouldStop?.()) {
        await save(t);
        return { lastStep: t, checkpointStep: t, stoppedBy: "interrupted", lastLoss, valLoss, stepMs: stepMs() };
      }
      const step = t + 1;
      const read = step % o.logEvery === 0 || step === o.steps;
      const lr = lrAt(o, step);
      const r = await trainer.train(step, data.train(step), lr, read);
      // an f16 overflow at a loss scale above 1 is a skipped step (the scale halves), not a divergence
      if (r && !r.skipped && !(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm))) {
        const message =
          `training diverged at step ${step} (loss ${r.loss}, gradient norm ${r.gradNorm}); ` +
          `the last good checkpoint (step ${checkpointStep}) is kept in ${o.checkpointPath}; try a lower --lr`;
        log({ step, loss: r.loss, grad_norm: r.gradNorm, lr, diverged: 1 });
        return {
          lastStep: checkpointStep,
          checkpointStep,
          stoppedBy: "diverged",
          lastLoss: r.loss,
          valLoss,
          message,
          stepMs: stepMs(),
        };
      }
      t = step;
      const entry: Record<string, number> = { step, lr, time_s: Math.round((performance.now() - started) / 10) / 100 };
      if (r) {
        const now = performance.now();
        if (mark.step > o.startStep) recentMs = (now - mark.at) / (t - mark.step);
        mark = { step: t, at: now };
        lastLoss = r.loss;
        Object.assign(entry, { loss: r.loss, grad_norm: r.gradNorm });
        if (r.lossScale !== undefined) entry.loss_scale = r.lossScale;
        if (r.skipped) entry.skipped = 1;
        if (Number.isFinite(rate())) entry.tokens_per_s = Math.round(rate());
      }
      if (step % o.evalEvery === 0 || step === o.steps) {
        valLoss = await trainer.evalLoss(data.val);
        entry.val_loss = valLoss;
      }
      if (r || entry.val_loss !== undefined) log(entry);
      if (step % o.checkpointEvery === 0 || step === o.steps) {
        await save(step);
        checkpointStep = step;
      }
      hooks.onProgress?.({
        step,
        steps: o.steps,
        loss: lastLoss,
        valLoss,
        tokensPerSecond: rate(),
        etaSeconds: ((o.steps - step) * stepMs()) / 1000,
      });
    }
    return { lastStep: t, checkpointStep, stoppedBy: "done", lastLoss, valLoss, stepMs: stepMs() };
  }
}
