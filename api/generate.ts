// generate.ts (api): `generate(...)` — text from a trained checkpoint. By default through the decoder
// derived from the model (api/decoder.ts): the prompt is prefilled once, then each token is one cached
// step, and the token is drawn on the GPU by the programs' sampler, so only its id is read back.
// `cache: false` recomputes the whole forward pass for each token instead (the baseline) and draws on
// the host by the same rule (runtime/sampling.ts). Greedy unless a temperature is given. The
// model sees at most its training window: it predicts from the last `window − 1` tokens (the positions
// it learned to predict from), so the caches hold window − 1 positions; when they are full, the cached
// path starts again from the last half of them (one prefill per half window of tokens), where the
// recomputing path slides by one token.
import type { Elaborated } from "../compiler/lower.js";
import { CheckpointError } from "../runtime/checkpoint.js";
import { CharTokenizer, UNKNOWN_ID } from "../datasets/text.js";
import { getGpu } from "../runtime/device.js";
import { type SamplingOptions, sampleToken } from "../runtime/sampling.js";
import { openIncremental } from "./decoder.js";
import { InputError, ModelError } from "./model.js";
import { type Trained, checkWeights, metaJson, openTrained, weightLoader, weightedExecutor } from "./trained.js";
import { languageModelIO } from "./text-model.js";

/** The tokens a model with training window `window` predicts from: training predicts from positions
 *  0 … window − 2 (the window's last token has no successor in it), so the last window − 1 tokens. */
export function generationContext(ids: readonly number[], window: number): number[] {
  return ids.slice(-(window - 1));
}

export interface GenerateOptions {
  readonly checkpoint: string;
  readonly prompt: string;
  readonly maxTokens?: number;
  /** 0 (the default) is greedy */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
  /** characters that end the text (before them), besides the model's `generate … until` token */
  readonly stop?: string;
  /** the derived KV-cache decoder (default), or full recomputation per token */
  readonly cache?: boolean;
  /** called with each new piece of text as it is produced */
  readonly onText?: (piece: string) => void;
}

export interface GenerateResult {
  readonly text: string; // the generated continuation (without the prompt)
  readonly tokens: number;
  readonly stoppedBy: "max-tokens" | "stop-token";
}

/** The token drawn after `ids` (the whole sequence so far; each call adds one id) at draw `step`. */
interface NextToken {
  next(ids: readonly number[], step: number): Promise<number>;
  destroy(): void;
}

export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const sampling = samplingOptions(o);
  const trained = openTrained(o.checkpoint, "text", "'mira generate --prompt'");
  const { meta } = trained;
  if (!meta.tokenizer || !meta.window)
    throw new CheckpointError(
      `${o.checkpoint} was not written by 'mira train' (its metadata lacks tokenizer or window)`,
    );
  const chars = metaJson<unknown>(o.checkpoint, meta, "tokenizer");
  if (typeof chars !== "string") {
    throw new CheckpointError(`${o.checkpoint}: its metadata's tokenizer is not a string of characters`);
  }
  const tokenizer = new CharTokenizer([...chars]);
  const window = Number(meta.window);
  if (!Number.isInteger(window) || window < 2) {
    throw new CheckpointError(`${o.checkpoint}: its metadata's window '${meta.window}' is not a whole number ≥ 2`);
  }
  const el = trained.model.elaborate({ B: 1, T: window });
  if (!languageModelIO(el).logits)
    throw new ModelError(`${meta.model}: the model has no 'generate' declaration naming its logits`);
  checkWeights(trained, el.params);
  const source =
    (o.cache ?? true) ? await cached(trained, window, sampling) : await recomputed(trained, el, window, sampling);
  try {
    const stop = new Set([el.generate?.until ?? UNKNOWN_ID, ...tokenizer.encode(o.stop ?? "")]);
    const ids = [...tokenizer.encode(o.prompt)];
    if (ids.length === 0) ids.push(tokenizer.encode("\n")[0] ?? UNKNOWN_ID);
    const produced: number[] = [];
    let stoppedBy: GenerateResult["stoppedBy"] = "max-tokens";
    for (let step = 0; step < (o.maxTokens ?? 200); step++) {
      const next = await source.next(ids, step);
      if (stop.has(next)) {
        stoppedBy = "stop-token";
        break;
      }
      ids.push(next);
      produced.push(next);
      o.onText?.(tokenizer.decode([next]));
    }
    return { text: tokenizer.decode(produced), tokens: produced.length, stoppedBy };
  } finally {
    source.destroy();
  }
}

/** The sampling settings of `o`, checked: greedy unless a temperature is given. */
export function samplingOptions(o: Pick<GenerateOptions, "temperature" | "topK" | "topP" | "seed">): SamplingOptions {
  const s: SamplingOptions = {
    temperature: o.temperature ?? 0,
    topK: o.topK ?? 0,
    topP: o.topP ?? 1,
    seed: o.seed ?? 1,
  };
  if (!(s.temperature >= 0) || !Number.isFinite(s.temperature))
    throw new InputError(`the temperature must be ≥ 0 (0: greedy), got ${s.temperature}`);
  if (!Number.isInteger(s.topK) || s.topK < 0)
    throw new InputError(`top-k must be a whole number ≥ 0 (0: every token), got ${s.topK}`);
  if (!(s.topP > 0 && s.topP <= 1)) throw new InputError(`top-p must be in (0, 1] (1: every token), got ${s.topP}`);
  if (!Number.isInteger(s.seed)) throw new InputError(`the seed must be a whole number, got ${s.seed}`);
  return s;
}

/** Prefill of the context, then one cached step per token, each drawing its token on the GPU; full
 *  caches restart from their last half. */
async function cached(trained: Trained, window: number, sampling: SamplingOptions): Promise<NextToken> {
  if (window < 2) throw new ModelError(`a training window of ${window} leaves no position to predict from`);
  const dec = await openIncremental(await getGpu(), trained.model, { maxLen: window - 1, load: weightLoader(trained) });
  let start = -1; // index in ids of cache position 0 (−1: nothing prefilled)
  return {
    next: async (ids, step) => {
      const draw = { sampling, step };
      if (start >= 0 && ids.length - start <= dec.capacity)
        return (await dec.stepSample([ids[ids.length - 1]], draw)).tokens[0];
      const context = start < 0 ? generationContext(ids, window) : ids.slice(-Math.ceil(dec.capacity / 2));
      start = ids.length - context.length;
      return (await dec.prefillSample(context, draw)).tokens[0];
    },
    destroy: () => dec.destroy(),
  };
}

/** The whole forward pass over the last window − 1 tokens, for every token; the draw on the host. */
async function recomputed(
  trained: Trained,
  el: Elaborated,
  window: number,
  sampling: SamplingOptions,
): Promise<NextToken> {
  const io = languageModelIO(el);
  const logitsOut = el.graph.outputs.find((x) => x.name === io.logits)!;
  const ex = await weightedExecutor(trained, el.graph, logitsOut);
  const vocab = el.graph.nodes.find((n) => n.id === logitsOut.id)!.shape.at(-1) ?? 0;
  const input = new Int32Array(window);
  return {
    next: async (ids, step) => {
      const context = generationContext(ids, window);
      input.fill(0);
      input.set(context);
      ex.write(io.tokens, input);
      const logits = (await ex.run([logitsOut.name]))[logitsOut.name];
      return sampleToken(logits.subarray((context.length - 1) * vocab, context.length * vocab), sampling, step);
    },
    destroy: () => ex.destroy(),
  };
}
