// ask.ts (mirasol): questions about a clip of an audio-video QA set, answered by a trained checkpoint —
// greedy decoding, stopping at the model's eos: by the decoder derived from the model (the clip encoded
// once per question by the prefill, then one cached step per answer token) or, with `cache: false`, by
// recomputing the whole model per answer token (answer-sources.ts). `mira generate --data DIR --clip ID
// --question "…"` and the demo use it.
import { type AvDataset, loadAvDataset } from "../../datasets/av-format.js";
import { SPLITS, type Split } from "../../datasets/chance.js";
import { EOS, WordTokenizer } from "../../datasets/words.js";
import { type AnswerSource, cachedAnswers, recomputedAnswers } from "./answer-sources.js";
import { avBatchDims, checkAvModel, writeClip } from "./av.js";
import { InputError, ModelError } from "../../api/model.js";
import { openTrained } from "../../api/trained.js";

/** A question the data set asks about a clip, with its answer. */
export interface ClipQuestion {
  readonly id: number;
  readonly question: string;
  readonly answer: string;
  readonly type: string;
}

export interface Answer {
  readonly question: string;
  readonly answer: string;
  /** the answer's token ids (without eos) */
  readonly tokens: readonly number[];
  /** the data set's answer when it asks this question about this clip */
  readonly expected?: string;
  readonly type?: string;
}

/** One line per answer: the question, the model's answer, and the expected one when the data has it. */
export const formatAnswer = (a: Answer): string =>
  `${a.question} → ${a.answer || "(nothing)"}` +
  `${a.expected === undefined ? "" : a.expected === a.answer ? "   ✓" : `   ✗ (expected ${a.expected})`}`;

export interface AnswererOptions {
  /** the derived KV-cache decoder (default), or the whole model recomputed per answer token */
  readonly cache?: boolean;
}

export class AvAnswerer {
  private readonly tokenizer: WordTokenizer;
  private readonly L: number;
  private readonly video: Float32Array;
  private readonly spectrogram: Float32Array;
  private loadedClip = -1;

  private constructor(
    readonly ds: AvDataset,
    private readonly source: AnswerSource,
  ) {
    this.tokenizer = new WordTokenizer(ds.index.text.vocab);
    this.L = ds.index.text.length;
    this.video = new Float32Array(ds.tensors.video.length / ds.index.clips);
    this.spectrogram = new Float32Array(ds.tensors.spectrogram.length / ds.index.clips);
  }

  /** Compiles the model of `checkpoint` for one question at a time over the clips of `data`
   *  (by default the data set it was trained on). */
  static async open(checkpoint: string, data?: string, o: AnswererOptions = {}): Promise<AvAnswerer> {
    const trained = openTrained(checkpoint, "av-qa", "answering questions about a clip");
    const ds = loadAvDataset(data ?? trained.meta.data);
    const el = trained.model.elaborate(avBatchDims(ds, 1));
    checkAvModel(el, ds);
    const out = el.graph.outputs.find((x) => x.name === (el.generate?.from ?? "logits"));
    if (!out) throw new ModelError(`${trained.meta.model} has no logits output to answer from`);
    const eos = el.generate?.until ?? EOS;
    const L = ds.index.text.length;
    const source =
      (o.cache ?? true) ? await cachedAnswers(trained, L, eos) : await recomputedAnswers(trained, el, out.name, L, eos);
    return new AvAnswerer(ds, source);
  }

  splitOf(clip: number): Split {
    this.checkClip(clip);
    return SPLITS.find((s) => clip >= this.ds.index.splits[s].clips[0] && clip < this.ds.index.splits[s].clips[1])!;
  }

  /** The questions the data set asks about `clip`. */
  questionsOf(clip: number): ClipQuestion[] {
    this.checkClip(clip);
    const t = this.ds.tensors;
    const out: ClipQuestion[] = [];
    for (let q = 0; q < this.ds.index.questions; q++) {
      if (t.question_clip[q] !== clip) continue;
      const row = t.text.subarray(q * this.L, q * this.L + t.prompt_length[q]);
      out.push({
        id: q,
        question: this.tokenizer.decode(row),
        answer: this.tokenizer.vocab[t.answer[q]],
        type: this.ds.index.questionTypes[t.question_type[q]].name,
      });
    }
    return out;
  }

  /** Answers `question` (words of the data set's vocabulary) about `clip`, greedily, up to eos. */
  async answer(clip: number, question: string): Promise<Answer> {
    this.checkClip(clip);
    let ids: number[];
    try {
      ids = this.tokenizer.encode(question);
    } catch (e) {
      throw new InputError(`the question cannot be read: ${(e as Error).message}`);
    }
    if (ids.length === 0) throw new InputError("the question is empty");
    if (ids.length >= this.L)
      throw new InputError(
        `the question has ${ids.length} words; ` +
          `this data set's rows hold ${this.L} tokens, question and answer together`,
      );
    if (this.loadedClip !== clip) {
      writeClip(this.ds, clip, this.video, this.spectrogram, 0);
      this.loadedClip = clip;
    }
    const produced = await this.source.answer(ids, { video: this.video, spectrogram: this.spectrogram });
    const normalised = this.tokenizer.decode(ids);
    const known = this.questionsOf(clip).find((q) => q.question === normalised);
    return {
      question: normalised,
      answer: this.tokenizer.decode(produced),
      tokens: produced,
      expected: known?.answer,
      type: known?.type,
    };
  }

  destroy(): void {
    this.source.destroy();
  }

  private checkClip(clip: number): void {
    if (!Number.isInteger(clip) || clip < 0 || clip >= this.ds.index.clips)
      throw new InputError(
        `--clip must be a clip id from 0 to ${this.ds.index.clips - 1} in ${this.ds.dir}; got ${clip}`,
      );
  }
}
