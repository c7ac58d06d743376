// train-av.ts (mirasol): training on an audio-video QA data set (`mira data synth`), with validation
// accuracy per question type beside chance. Shares the trainer, loop, checkpoints and resume rules of
// text training (api/train.ts); only the data source and the evaluation differ. `train(...)`, which
// `mira train` calls, picks between them by the data (or by the checkpoint a run resumes).
import { join } from "node:path";
import { graphFlops } from "../../compiler/report.js";
import { DEFAULT_ADAMW } from "../../compiler/train-step.js";
import { trainableModel } from "../../compiler/train-model.js";
import type { Checkpoint } from "../../runtime/checkpoint.js";
import { loadAvDataset } from "../../datasets/av-format.js";
import { compileFor } from "../../runtime/autotune-cache.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { trainLoop } from "../../runtime/train-loop.js";
import { Trainer } from "../../runtime/trainer.js";
import {
  type TypeAccuracy,
  type TypeStage,
  avBatchDims,
  avDataSource,
  checkAvModel,
  evaluateAv,
  isAvDataset,
  logitsRunner,
  runStages,
  stagedPool,
} from "./av.js";
import { InputError, ModelError, loadModel } from "../../api/model.js";
import {
  CHECKPOINT_FILE,
  type TrainOptions,
  type TrainResult,
  checkSameData,
  fingerprint,
  freshResumeNote,
  lockRun,
  resumedCheckpoint,
  startRun,
  trainText,
} from "../../api/train.js";

export interface AvTrainOptions extends TrainOptions {
  /** audio-video QA only: train on the questions of these types (default all), or of a curriculum's
   *  stages (parseTypeStages); evaluation reports every type */
  readonly types?: readonly string[] | readonly TypeStage[];
}

export interface AvTrainResult extends TrainResult {
  readonly accuracy: readonly TypeAccuracy[];
  readonly params: number;
  /**
   * FLOPs of one training step as compiled (forward, backward, AdamW), as
   * `mira compile --emit report --step train` counts them
   */
  readonly flopsPerStep: number;
}

/** Trains on an audio-video QA set (a directory `mira data synth` or `mira data import` wrote), or
 *  else on text (api/train.ts); a resumed run keeps the kind of data its checkpoint was trained on. */
export async function train(o: AvTrainOptions): Promise<TrainResult> {
  const resumed = resumedCheckpoint(o);
  const meta = resumed?.metadata;
  if (meta?.kind === "av-qa" || (!meta && isAvDataset(o.data))) return trainAv(o, resumed);
  if (o.types?.length)
    throw new InputError(`question types (--types) apply to an audio-video QA set; ${o.data} is text`);
  return trainText(o, resumed);
}

export async function trainAv(o: AvTrainOptions, resumed?: Checkpoint): Promise<AvTrainResult> {
  const runDir = join(o.runsDir ?? "runs", o.run ?? "default");
  const meta = resumed?.metadata;
  const model = loadModel(
    meta?.model ?? o.model,
    meta
      ? { preset: meta.preset || undefined, set: JSON.parse(meta.overrides) as string[] }
      : { preset: o.preset, set: o.set },
  );
  if (meta && meta.source_sha256 !== model.sourceHash)
    throw new ModelError(
      `${model.path} (or a file it imports) changed since its checkpoint was saved; ` +
        "resume with the model it was trained from",
    );
  const ds = loadAvDataset(meta?.data ?? o.data);
  const dataSha = fingerprint(JSON.stringify(ds.index));
  checkSameData(meta, dataSha, ds.dir, join(runDir, CHECKPOINT_FILE));
  const batch = meta ? Number(meta.batch) : (o.batch ?? 16);
  const seed = meta ? Number(meta.seed) : (o.seed ?? 1);
  const types = runStages(o.types, meta?.types);
  const pool = stagedPool(ds, types);
  const el = model.elaborate(avBatchDims(ds, batch));
  checkAvModel(el, ds);
  const loss = el.objective ?? el.losses[0];
  if (!loss) throw new ModelError("the model declares no loss or objective to train");
  const logitsOut = el.graph.outputs.find((x) => x.name === (el.generate?.from ?? "logits"));
  if (!logitsOut)
    throw new ModelError("an audio-video QA model needs a `generate … from logits` output to be evaluated");
  const unlock = lockRun(runDir);
  let trainer: Trainer | undefined;
  let evaluator: Executor | undefined;
  try {
    const gpu = await getGpu();
    trainer = await Trainer.create(gpu, trainableModel(el, loss), { ...DEFAULT_ADAMW, ...o.adamw });
    evaluator = await Executor.create(gpu, compileFor(gpu, { nodes: el.graph.nodes, outputs: [logitsOut] }), {
      share: trainer.step,
    });
    const { startStep, steps, lr, warmup } = startRun(trainer, el.params, seed, o, resumed, 2e-3, runDir);
    const data = avDataSource(ds, batch, seed, o.evalBatches ?? 8, pool);
    o.onStart?.({
      runDir,
      params: el.paramCount,
      dispatchesPerStep: trainer.dispatchesPerStep,
      bufferBytes: trainer.bufferBytes,
      startStep,
      steps,
      vocab: ds.index.text.vocab.length,
      trainChars: 0,
      valChars: 0,
      freshResume: resumed ? undefined : freshResumeNote(o, runDir),
    });
    const initialValLoss = startStep === 0 ? await trainer.evalLoss(data.val) : undefined;
    const result = await trainLoop(
      trainer,
      data,
      {
        steps,
        seed,
        lr,
        warmup,
        minLrFraction: 0.1,
        logEvery: o.logEvery ?? 10,
        evalEvery: o.evalEvery ?? 100,
        checkpointEvery: o.checkpointEvery ?? 100,
        checkpointPath: join(runDir, CHECKPOINT_FILE),
        metricsPath: join(runDir, "metrics.jsonl"),
        metadata: {
          format: "mira-checkpoint-1",
          kind: "av-qa",
          model: model.path,
          preset: model.preset ?? "",
          overrides: JSON.stringify(model.set),
          source_sha256: model.sourceHash,
          data: ds.dir,
          data_sha256: dataSha,
          batch: String(batch),
          types: JSON.stringify(types),
          schedule: JSON.stringify({ steps, lr, warmup }),
        },
        startStep,
        writeHooks: o.writeHooks,
      },
      { onProgress: o.onProgress, shouldStop: o.shouldStop },
    );
    const accuracy = await evaluateAv(ds, "val", batch, logitsRunner(evaluator, logitsOut.name));
    return {
      ...result,
      runDir,
      checkpoint: join(runDir, CHECKPOINT_FILE),
      initialValLoss,
      accuracy,
      baselines: { lnVocab: Math.log(ds.index.text.vocab.length), unigramEntropy: NaN, trigram: NaN },
      dispatchesPerStep: trainer.dispatchesPerStep,
      bufferBytes: trainer.bufferBytes,
      tokensPerSecond: batch / (result.stepMs / 1000),
      params: el.paramCount,
      flopsPerStep: graphFlops(trainer.step.program.graph),
    };
  } finally {
    evaluator?.destroy();
    trainer?.destroy();
    unlock();
  }
}
