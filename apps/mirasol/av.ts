// av.ts (mirasol): audio-video QA data (datasets/av-format.ts) as model inputs — batches of questions
// with their clip's video and (normalised) spectrogram, a pure function of (seed, step) — and the
// exact-match evaluation of answers per question type, each beside its chance.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBits } from "../../base/random.js";
import type { Elaborated } from "../../compiler/lower.js";
import { type AvDataset, FORMAT, INDEX_FILE } from "../../datasets/av-format.js";
import type { Split } from "../../datasets/chance.js";
import type { DataSource } from "../../runtime/train-loop.js";
import type { Executor } from "../../runtime/executor.js";
import type { Batch } from "../../runtime/trainer.js";
import { argmax } from "../../runtime/sampling.js";
import { InputError, ModelError } from "../../api/model.js";

export const AV_INPUTS = ["video", "spectrogram", "text", "loss_mask"] as const;

export function isAvDataset(dir: string): boolean {
  const index = join(dir, INDEX_FILE);
  if (!existsSync(index)) return false;
  try {
    return (JSON.parse(readFileSync(index, "utf8")) as { format?: string }).format === FORMAT;
  } catch {
    return false;
  }
}

/** Batch sizes that make the model's inputs match the data set, or a ModelError saying what differs. */
export function avBatchDims(ds: AvDataset, batch: number): Record<string, number> {
  return { B: batch, L: ds.index.text.length };
}

export function checkAvModel(el: Elaborated, ds: AvDataset): void {
  const names = el.inputs.map((i) => i.name).sort();
  if (names.join() !== [...AV_INPUTS].sort().join())
    throw new ModelError(
      `an audio-video QA model takes inputs ${AV_INPUTS.join(", ")}; this one takes ${names.join(", ")}`,
    );
  const v = ds.index.video;
  const a = ds.index.audio;
  const want: Record<string, number[]> = {
    video: [v.frames, v.height, v.width, v.channels],
    spectrogram: [a.specFrames, a.mel.mels],
  };
  for (const [name, dims] of Object.entries(want)) {
    const got = el.inputs.find((i) => i.name === name)!.shape.slice(1);
    if (got.join() !== dims.join()) {
      throw new ModelError(
        `the model's ${name} is [B, ${got.join(", ")}] per example but the data has [${dims.join(", ")}]; ` +
          "use the preset the data was made for, or remake the data (mira data synth --frames/--chunks/--size/--mels)",
      );
    }
  }
}

/** Question ids of a split. */
export const questionsOf = (ds: AvDataset, split: Split): [number, number] =>
  [...ds.index.splits[split].questions] as [number, number];

/** Writes clip `c`'s video and normalised spectrogram into row `r` of `video` and `spectrogram`. */
export function writeClip(ds: AvDataset, c: number, video: Float32Array, spectrogram: Float32Array, r: number): void {
  const t = ds.tensors;
  const clipVideo = t.video.length / ds.index.clips;
  const clipSpec = t.spectrogram.length / ds.index.clips;
  const { mean, std } = ds.index.audio.stats;
  video.set(t.video.subarray(c * clipVideo, (c + 1) * clipVideo), r * clipVideo);
  const spec = t.spectrogram.subarray(c * clipSpec, (c + 1) * clipSpec);
  for (let i = 0; i < clipSpec; i++) spectrogram[r * clipSpec + i] = (spec[i] - mean) / std;
}

/** The inputs for questions `qs`: each with its clip's video and spectrogram. */
export function avBatch(ds: AvDataset, qs: readonly number[]): Batch {
  const t = ds.tensors;
  const L = ds.index.text.length;
  const video = new Float32Array((qs.length * t.video.length) / ds.index.clips);
  const spectrogram = new Float32Array((qs.length * t.spectrogram.length) / ds.index.clips);
  const text = new Int32Array(qs.length * L);
  const mask = new Float32Array(qs.length * L);
  qs.forEach((q, r) => {
    writeClip(ds, t.question_clip[q], video, spectrogram, r);
    text.set(t.text.subarray(q * L, (q + 1) * L), r * L);
    mask.set(t.loss_mask.subarray(q * L, (q + 1) * L), r * L);
  });
  return { video, spectrogram, text, loss_mask: mask };
}

/**
 * The training questions to draw from: all of the training split, or only those of the named question
 * types (`mira train --types`); an unknown name or a type with no training question is an InputError.
 */
export function trainingPool(ds: AvDataset, types?: readonly string[]): Int32Array {
  const [t0, t1] = questionsOf(ds, "train");
  if (!types || types.length === 0) return Int32Array.from({ length: t1 - t0 }, (_, i) => t0 + i);
  const names = ds.index.questionTypes.map((t) => t.name);
  const wanted = new Set<number>();
  for (const name of types) {
    const i = names.indexOf(name);
    if (i < 0) throw new InputError(`unknown question type '${name}'; ${ds.dir} has ${names.join(", ")}`);
    wanted.add(i);
  }
  const pool: number[] = [];
  for (let q = t0; q < t1; q++) if (wanted.has(ds.tensors.question_type[q])) pool.push(q);
  if (pool.length === 0) throw new InputError(`no training question of type ${types.join(", ")} in ${ds.dir}`);
  return Int32Array.from(pool);
}

/** One stage of a question-type curriculum: from step `from` on, the pool also holds these types (none: every type). */
export interface TypeStage {
  readonly from: number;
  readonly types: readonly string[];
}

/**
 * `mira train --types`: stages separated by ';', each a comma list of question types (or `all`) with an
 * optional `@STEP` at which it joins the pool — "first_colour,first_tone; nth_colour,when_colour@100; all@250".
 * A plain list is one stage from step 0. The first stage starts at 0 and the steps increase.
 */
export function parseTypeStages(spec: string): TypeStage[] {
  const stages = spec.split(";").map((part, i) => {
    const [names, at, extra] = part.split("@").map((x) => x.trim());
    const types = names
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== "");
    if (types.length === 0)
      throw new InputError(
        `--types stage ${i + 1} ('${part.trim()}') names no question type; write T1,T2[@STEP], stages separated by ';'`,
      );
    if (extra !== undefined) throw new InputError(`--types stage ${i + 1} ('${part.trim()}') has more than one @STEP`);
    const from = at === undefined ? 0 : Number(at);
    if (!Number.isInteger(from) || from < 0 || at === "")
      throw new InputError(`--types stage ${i + 1}: '@${at}' is not a step number`);
    return { from, types: types.length === 1 && types[0] === "all" ? [] : types };
  });
  if (stages[0].from !== 0)
    throw new InputError(`--types: the first stage starts at step 0, not ${stages[0].from} (drop its @)`);
  stages.forEach((st, i) => {
    if (i > 0 && st.from <= stages[i - 1].from)
      throw new InputError(
        `--types: stage ${i + 1} starts at step ${st.from}, not after stage ${i}'s ${stages[i - 1].from}; ` +
          "give each later stage a larger @STEP",
      );
  });
  return stages;
}

/** A plain list of types is one stage from step 0; no types (or none given) is every type from step 0. */
export function toStages(types: readonly string[] | readonly TypeStage[] | undefined): TypeStage[] {
  if (!types || types.length === 0) return [{ from: 0, types: [] }];
  return typeof types[0] === "string"
    ? [{ from: 0, types: types as readonly string[] }]
    : [...(types as readonly TypeStage[])];
}

/** The curriculum a run trains with: the one given (a resumed run may change it, as it may its steps
 *  or lr), else the one its checkpoint stored (a plain list, before curricula), else every type. */
export function runStages(
  given: readonly string[] | readonly TypeStage[] | undefined,
  stored: string | undefined,
): TypeStage[] {
  if (given?.length) return toStages(given);
  return toStages(stored ? (JSON.parse(stored) as string[] | TypeStage[]) : undefined);
}

/** The pool at each step of a curriculum: the training questions of every type of the stages begun by then. */
export function stagedPool(ds: AvDataset, stages: readonly TypeStage[]): (step: number) => Int32Array {
  const pools = stages.map((_, i) => {
    const begun = stages.slice(0, i + 1);
    return begun.some((st) => st.types.length === 0)
      ? trainingPool(ds)
      : trainingPool(ds, [...new Set(begun.flatMap((st) => st.types))]);
  });
  return (step) => {
    let k = 0;
    while (k + 1 < stages.length && stages[k + 1].from <= step) k++;
    return pools[k];
  };
}

/** Training batches drawn from `pool` (default: the training split; a function: the pool at each step)
 *  by (seed, step, row); fixed validation batches. */
export function avDataSource(
  ds: AvDataset,
  batch: number,
  seed: number,
  valBatches = 8,
  pool: Int32Array | ((step: number) => Int32Array) = trainingPool(ds),
): DataSource {
  const [v0, v1] = questionsOf(ds, "val");
  const val: Batch[] = [];
  for (let s = v0; s + batch <= v1 && val.length < valBatches; s += batch)
    val.push(
      avBatch(
        ds,
        Array.from({ length: batch }, (_, i) => s + i),
      ),
    );
  const poolAt = typeof pool === "function" ? pool : () => pool;
  return {
    train: (step) => {
      const p = poolAt(step);
      return avBatch(
        ds,
        Array.from({ length: batch }, (_, r) => p[randomBits(seed, step, r) % p.length]),
      );
    },
    val,
    itemsPerBatch: batch,
  };
}

/** Writes the batch's inputs that the executor's program reads (logits need no loss mask). */
export function writeInputs(ex: Executor, b: Batch): void {
  for (const [name, v] of Object.entries(b)) if (ex.program.inputs.some((i) => i.name === name)) ex.write(name, v);
}

/** `evaluateAv`'s `run` for an executor computing `logits`: writes the batch, runs, reads the logits back. */
export const logitsRunner =
  (ex: Executor, logits: string) =>
  async (b: Batch): Promise<Float64Array> => {
    writeInputs(ex, b);
    return (await ex.run([logits]))[logits];
  };

export interface TypeAccuracy {
  readonly type: string;
  readonly needs: readonly string[];
  readonly questions: number;
  readonly accuracy: number;
  readonly chance: number;
}

/**
 * Exact-match accuracy per question type: the answer is one word, predicted at the last prompt
 * position (`logits` position p − 1 predicts text[p]); the causal decoder cannot see the answer there,
 * so one forward pass per batch is greedy decoding. `run` computes logits [B, L, vocab] for a batch.
 */
export async function evaluateAv(
  ds: AvDataset,
  split: Split,
  batch: number,
  run: (b: Batch) => Promise<Float64Array>,
  ablate?: "audio" | "video",
): Promise<TypeAccuracy[]> {
  const [q0, q1] = questionsOf(ds, split);
  const L = ds.index.text.length;
  const types = ds.index.questionTypes;
  const right = new Array<number>(types.length).fill(0);
  const total = new Array<number>(types.length).fill(0);
  for (let s = q0; s < q1; s += batch) {
    // the last batch repeats its final question
    const qs = Array.from({ length: batch }, (_, i) => Math.min(s + i, q1 - 1));
    const b = avBatch(ds, qs);
    const inputs: Batch =
      ablate === "audio"
        ? { ...b, spectrogram: new Float32Array(b.spectrogram.length) }
        : ablate === "video"
          ? { ...b, video: new Float32Array(b.video.length) }
          : b;
    const logits = await run(inputs);
    const V = logits.length / (batch * L); // the model's vocabulary: at least the data's, maybe more
    qs.forEach((q, r) => {
      if (r > 0 && q === qs[r - 1]) return;
      const p = ds.tensors.prompt_length[q];
      const best = argmax(logits.subarray((r * L + p - 1) * V, (r * L + p) * V));
      const type = ds.tensors.question_type[q];
      total[type]++;
      if (best === ds.tensors.answer[q]) right[type]++;
    });
  }
  return types.map((t, i) => ({
    type: t.name,
    needs: t.needs,
    questions: total[i],
    accuracy: total[i] ? right[i] / total[i] : 0,
    chance: ds.index.chance[t.name]?.[split] ?? 0,
  }));
}
