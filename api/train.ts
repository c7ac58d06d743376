// train.ts (api): `trainText(...)` — a .mira model trained on a text file on the GPU, with checkpoints,
// metrics and resume — and the run directory, checkpoint and resume rules every kind of training shares
// (apps/mirasol/train-av.ts trains on audio-video QA sets with them).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ParamInfo, initParams } from "../compiler/lower.js";
import { type AdamWConfig, DEFAULT_ADAMW } from "../compiler/train-step.js";
import { trainableModel } from "../compiler/train-model.js";
import { type Checkpoint, CheckpointError, type WriteHooks, loadCheckpoint } from "../runtime/checkpoint.js";
import { CharTokenizer, splitText, trainBatch, valBatches } from "../datasets/text.js";
import { trigramLoss, unigramEntropy } from "../datasets/ngram.js";
import { getGpu } from "../runtime/device.js";
import { type DataSource, type LoopResult, type Progress, STEP_KEY, trainLoop } from "../runtime/train-loop.js";
import { Trainer } from "../runtime/trainer.js";
import { InputError, type LoadedModel, ModelError, configNumber, loadModel } from "./model.js";
import { languageModelIO } from "./text-model.js";

export interface TrainOptions {
  /** path of the .mira model */
  readonly model: string;
  /** path of a text file (any UTF-8 text) */
  readonly data: string;
  readonly preset?: string;
  readonly set?: readonly string[];
  readonly steps?: number;
  readonly batch?: number;
  /** context window; default the model's `max_len` (at most 128) */
  readonly window?: number;
  readonly lr?: number;
  readonly warmup?: number;
  readonly seed?: number;
  /** run name: files go to runs/<run>/ */
  readonly run?: string;
  readonly runsDir?: string;
  readonly resume?: boolean;
  readonly logEvery?: number;
  readonly evalEvery?: number;
  readonly evalBatches?: number;
  readonly checkpointEvery?: number;
  readonly adamw?: Partial<AdamWConfig>;
  readonly onStart?: (info: TrainStart) => void;
  readonly onProgress?: (p: Progress) => void;
  readonly shouldStop?: () => boolean;
  /** how checkpoint files are written (tests fill the disk here) */
  readonly writeHooks?: WriteHooks;
}

export interface TrainStart {
  readonly runDir: string;
  readonly params: number;
  readonly dispatchesPerStep: number;
  readonly bufferBytes: number;
  readonly startStep: number;
  readonly steps: number;
  readonly vocab: number;
  readonly trainChars: number;
  readonly valChars: number;
  /** set when `resume` found no checkpoint in the run directory, so the run starts fresh */
  readonly freshResume?: string;
}

export interface TrainResult extends LoopResult {
  readonly runDir: string;
  readonly checkpoint: string;
  readonly baselines: { readonly lnVocab: number; readonly unigramEntropy: number; readonly trigram: number };
  readonly initialValLoss?: number;
  readonly dispatchesPerStep: number;
  readonly bufferBytes: number;
  readonly tokensPerSecond: number;
}

export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const LOCK_FILE = "lock";

/** A run directory another live trainer is using (exit 2: pick another --run or wait). */
export class RunLockedError extends InputError {
  override name = "RunLockedError";
}

/** Holds `runDir` for this process: a lock file with its pid, refused while that pid lives and taken
 *  over when it does not (a killed trainer leaves its lock behind). Returns the release. */
export function lockRun(runDir: string): () => void {
  mkdirSync(runDir, { recursive: true });
  const path = join(runDir, LOCK_FILE);
  const mine = String(process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, mine + "\n", { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 2) throw e;
    }
    const holder = Number.parseInt(readFileSync(path, "utf8"), 10);
    if (holder !== process.pid && isAlive(holder)) {
      throw new RunLockedError(
        `${runDir} is in use by another trainer (pid ${holder}, ${path}); ` +
          "wait for it to finish, stop it, or train with another --run",
      );
    }
    rmSync(path, { force: true });
  }
  const release = (): void => {
    try {
      if (readFileSync(path, "utf8").trim() === mine) rmSync(path, { force: true });
    } catch {
      // already gone
    }
    process.off("exit", release);
  };
  process.on("exit", release);
  return release;
}

/** Whether `pid` runs; a killed process waiting to be reaped (a zombie) does not. */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true; // no /proc (not Linux): signal 0 reached it
  }
}

/** A fingerprint of the training data, stored in each checkpoint so a resumed run notices new data. */
export const fingerprint = (data: string): string => createHash("sha256").update(data).digest("hex");

/** Refuses to resume on data other than the checkpoint's (checkpoints without a fingerprint pass). */
export function checkSameData(
  meta: Readonly<Record<string, string>> | undefined,
  now: string,
  data: string,
  ckptPath: string,
): void {
  const then = meta?.data_sha256;
  if (then && then !== now) {
    throw new CheckpointError(
      `the training data ${data} changed since ${ckptPath} was saved (fingerprint ${now.slice(0, 12)}, ` +
        `the checkpoint's ${then.slice(0, 12)}); resume with the data it was trained on, or start a new --run`,
    );
  }
}

/** The one line a run says when `resume` found nothing to resume. */
export const freshResumeNote = (o: TrainOptions, runDir: string): string | undefined =>
  o.resume ? `${runDir} has no checkpoint yet; starting a fresh run` : undefined;

/** What a checkpoint records about where it came from (all strings, as safetensors requires). */
export interface ScheduleMeta {
  readonly steps: number;
  readonly lr: number;
  readonly warmup: number;
}

export function checkpointMetadata(
  model: LoadedModel,
  tokenizer: CharTokenizer,
  window: number,
  batch: number,
  schedule: ScheduleMeta,
): Record<string, string> {
  return {
    format: "mira-checkpoint-1",
    model: model.path,
    preset: model.preset ?? "",
    overrides: JSON.stringify(model.set),
    source_sha256: model.sourceHash,
    tokenizer: tokenizer.toJSON(),
    window: String(window),
    batch: String(batch),
    schedule: JSON.stringify(schedule),
  };
}

/** A text file, or every .txt file of a directory in name order, joined by blank lines. */
export function readText(path: string): string {
  try {
    if (!statSync(path).isDirectory()) return readFileSync(path, "utf8");
    const files = readdirSync(path)
      .filter((f) => f.endsWith(".txt"))
      .sort();
    if (!files.length) throw new InputError(`${path}: the directory holds no .txt files`);
    return files.map((f) => readFileSync(join(path, f), "utf8").trim()).join("\n\n") + "\n";
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      `${path}: cannot read the training text (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`,
    );
  }
}

/** Restores or initialises a trainer, makes the run directory, and resolves the schedule: a resumed run
 *  keeps the one stored in its checkpoint unless told otherwise, so it continues the same trajectory. */
export function startRun(
  trainer: Trainer,
  params: readonly ParamInfo[],
  seed: number,
  o: TrainOptions,
  resumed: Checkpoint | undefined,
  defaultLr: number,
  runDir: string,
): { startStep: number } & ScheduleMeta {
  const meta = resumed?.metadata;
  if (resumed) trainer.restore(resumed.tensors);
  else trainer.initialize(initParams(params, seed));
  mkdirSync(runDir, { recursive: true });
  const stored = meta?.schedule ? (JSON.parse(meta.schedule) as Partial<ScheduleMeta>) : {};
  const steps = o.steps ?? stored.steps ?? 1000;
  return {
    startStep: meta ? Number(meta[STEP_KEY]) : 0,
    steps,
    lr: o.lr ?? stored.lr ?? defaultLr,
    warmup: o.warmup ?? stored.warmup ?? Math.min(100, Math.floor(steps / 10)),
  };
}

/** The checkpoint a run resumes from (`resume`), read from its run directory. */
export function resumedCheckpoint(o: TrainOptions): Checkpoint | undefined {
  const path = join(o.runsDir ?? "runs", o.run ?? "default", CHECKPOINT_FILE);
  return o.resume && existsSync(path) ? loadCheckpoint(path) : undefined;
}

export async function trainText(o: TrainOptions, resumed = resumedCheckpoint(o)): Promise<TrainResult> {
  const runDir = join(o.runsDir ?? "runs", o.run ?? "default");
  const ckptPath = join(runDir, CHECKPOINT_FILE);
  const meta = resumed?.metadata;
  const model = loadModel(
    o.model,
    meta
      ? { preset: meta.preset || undefined, set: JSON.parse(meta.overrides) as string[] }
      : { preset: o.preset, set: o.set },
  );
  if (meta && meta.source_sha256 !== model.sourceHash) {
    throw new CheckpointError(
      `${o.model} (or a file it imports) changed since ${ckptPath} was saved; ` +
        "resume with the model it was trained from",
    );
  }
  const vocab = configNumber(model, "vocab");
  if (vocab === undefined) throw new ModelError(`${o.model}: a text model needs an integer config value 'vocab'`);
  const text = readText(o.data);
  const dataSha = fingerprint(text);
  checkSameData(meta, dataSha, o.data, ckptPath);
  const tokenizer = meta ? CharTokenizer.fromJSON(meta.tokenizer) : CharTokenizer.fromText(text, vocab);
  const window = meta ? Number(meta.window) : Math.min(o.window ?? 128, configNumber(model, "max_len") ?? 128);
  const batch = meta ? Number(meta.batch) : (o.batch ?? 16);
  const seed = meta ? Number(meta.seed) : (o.seed ?? 1);
  let split: ReturnType<typeof splitText>;
  try {
    split = splitText(tokenizer.encode(text), window);
  } catch (e) {
    throw new InputError(`${o.data}: ${(e as Error).message}`);
  }

  const el = model.elaborate({ B: batch, T: window });
  const io = languageModelIO(el);
  const unlock = lockRun(runDir);
  let trainer: Trainer | undefined;
  try {
    trainer = await Trainer.create(await getGpu(), trainableModel(el, io.loss), { ...DEFAULT_ADAMW, ...o.adamw });
    const { startStep, steps, lr, warmup } = startRun(trainer, el.params, seed, o, resumed, 3e-3, runDir);
    o.onStart?.({
      runDir,
      params: el.paramCount,
      dispatchesPerStep: trainer.dispatchesPerStep,
      bufferBytes: trainer.bufferBytes,
      startStep,
      steps,
      vocab,
      trainChars: split.train.length,
      valChars: split.val.length,
      freshResume: resumed ? undefined : freshResumeNote(o, runDir),
    });
    const data: DataSource = {
      train: (step) => ({ [io.tokens]: trainBatch(split.train, step, batch, window, seed) }),
      val: valBatches(split.val, batch, window, o.evalBatches ?? 8).map((b) => ({ [io.tokens]: b })),
      itemsPerBatch: batch * window,
    };
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
        checkpointPath: ckptPath,
        metricsPath: join(runDir, "metrics.jsonl"),
        metadata: {
          ...checkpointMetadata(model, tokenizer, window, batch, { steps, lr, warmup }),
          data_sha256: dataSha,
        },
        startStep,
        writeHooks: o.writeHooks,
      },
      { onProgress: o.onProgress, shouldStop: o.shouldStop },
    );
    return {
      ...result,
      runDir,
      checkpoint: ckptPath,
      initialValLoss,
      baselines: {
        lnVocab: Math.log(tokenizer.vocabSize),
        unigramEntropy: unigramEntropy(split.val, tokenizer.vocabSize),
        trigram: trigramLoss(split.train, split.val, tokenizer.vocabSize),
      },
      dispatchesPerStep: trainer.dispatchesPerStep,
      bufferBytes: trainer.bufferBytes,
      tokensPerSecond: (batch * window) / (result.stepMs / 1000),
    };
  } finally {
    trainer?.destroy();
    unlock();
  }
}
