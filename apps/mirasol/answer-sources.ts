// answer-sources.ts (mirasol): the two ways AvAnswerer (ask.ts) decodes an answer greedily, up to eos or
// the data set's row length — by the decoder derived from the model (default: one prefill over the
// question, which also encodes the clip once, then one cached step per answer token, the token drawn on
// the GPU; one prefill program serves every question length, padded) or by recomputing the whole model,
// encoder included, for every answer token (the baseline, `cache: false`).
import type { Elaborated } from "../../compiler/lower.js";
import { getGpu } from "../../runtime/device.js";
import { GREEDY, argmax } from "../../runtime/sampling.js";
import { openIncremental } from "../../api/decoder.js";
import { type Trained, weightLoader, weightedExecutor } from "../../api/trained.js";

/** A clip's inputs, as the model takes them for one batch row. */
export interface ClipInputs {
  readonly video: Float32Array;
  readonly spectrogram: Float32Array;
}

export interface AnswerSource {
  /** The greedy answer to the question `ids` about `clip` (without eos): tokens until eos, or until
   *  question and answer fill `length` tokens. */
  answer(ids: readonly number[], clip: ClipInputs): Promise<number[]>;
  destroy(): void;
}

/** The derived decoder: the caches hold the row's `length` − 1 predicting positions. */
export async function cachedAnswers(trained: Trained, length: number, eos: number): Promise<AnswerSource> {
  const dec = await openIncremental(await getGpu(), trained.model, {
    maxLen: length - 1,
    load: weightLoader(trained),
    lengths: true,
  });
  const padded = new Int32Array(length - 1);
  return {
    async answer(ids, clip) {
      padded.fill(0);
      padded.set(ids);
      const feeds = { video: clip.video, spectrogram: clip.spectrogram };
      let out = await dec.prefillSample(padded, { sampling: GREEDY, step: 0 }, feeds, [ids.length]);
      const produced: number[] = [];
      for (let step = 1; ; step++) {
        const t = out.tokens[0];
        if (t === eos) break;
        produced.push(t);
        if (ids.length + produced.length >= length) break;
        out = await dec.stepSample([t], { sampling: GREEDY, step });
      }
      return produced;
    },
    destroy: () => dec.destroy(),
  };
}

/** The whole model per answer token, over the row padded to `length`. */
export async function recomputedAnswers(
  trained: Trained,
  el: Elaborated,
  logits: string,
  length: number,
  eos: number,
): Promise<AnswerSource> {
  const out = el.graph.outputs.find((x) => x.name === logits)!;
  const ex = await weightedExecutor(trained, el.graph, out);
  const vocab = el.graph.nodes[out.id].shape.at(-1)!; // the model's, ≥ the data's
  // the logits do not read loss_mask, but a model may still declare it as an input: zeros, once
  if (ex.program.inputs.some((i) => i.name === "loss_mask")) ex.write("loss_mask", new Float32Array(length));
  const text = new Int32Array(length);
  return {
    async answer(ids, clip) {
      ex.write("video", clip.video);
      ex.write("spectrogram", clip.spectrogram);
      const produced: number[] = [];
      while (ids.length + produced.length < length) {
        text.fill(0);
        text.set(ids);
        text.set(produced, ids.length);
        ex.write("text", text);
        const row = (await ex.run([logits]))[logits];
        const at = ids.length + produced.length - 1;
        const best = argmax(row.subarray(at * vocab, (at + 1) * vocab));
        if (best === eos) break;
        produced.push(best);
      }
      return produced;
    },
    destroy: () => ex.destroy(),
  };
}
