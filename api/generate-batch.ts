// generate-batch.ts (api): `generateBatch(...)` — text from several prompts of different lengths at
// once: one prefill over the prompts padded to the longest, then one cached step per token for every
// row, each row at its own position and ending at its own stop token (runtime/generate-rows.ts). Tokens
// are drawn on the GPU. Unlike generate(), a row does not slide past the training window: it ends when
// the caches (window − 1 positions) are full.
import { CheckpointError } from "../runtime/checkpoint.js";
import { CharTokenizer, UNKNOWN_ID } from "../datasets/text.js";
import { getGpu } from "../runtime/device.js";
import { type RowStop, decodeRows } from "../runtime/generate-rows.js";
import { openIncremental } from "./decoder.js";
import { type GenerateOptions, generationContext, samplingOptions } from "./generate.js";
import { InputError, ModelError } from "./model.js";
import { openTrained, weightLoader } from "./trained.js";

export interface GenerateBatchOptions extends Omit<GenerateOptions, "prompt" | "cache" | "onText"> {
  readonly prompts: readonly string[];
}

export interface BatchRow {
  readonly text: string;
  readonly tokens: number;
  /** "full": the row reached the end of the training window */
  readonly stoppedBy: RowStop;
}

export async function generateBatch(o: GenerateBatchOptions): Promise<BatchRow[]> {
  const sampling = samplingOptions(o);
  if (o.prompts.length === 0) throw new InputError("generateBatch needs at least one prompt");
  const trained = openTrained(o.checkpoint, "text", "'generateBatch'");
  const { meta } = trained;
  if (!meta.tokenizer || !meta.window)
    throw new CheckpointError(
      `${o.checkpoint} was not written by 'mira train' (its metadata lacks tokenizer or window)`,
    );
  const tokenizer = CharTokenizer.fromJSON(meta.tokenizer);
  const window = Number(meta.window);
  if (window < 2) throw new ModelError(`a training window of ${window} leaves no position to predict from`);
  const until = trained.model.elaborate({ B: 1, T: window }).generate?.until ?? UNKNOWN_ID;
  const newline = tokenizer.encode("\n")[0] ?? UNKNOWN_ID;
  const prompts = o.prompts.map((p) => {
    const ids = [...tokenizer.encode(p)];
    return generationContext(ids.length ? ids : [newline], window);
  });
  const dec = await openIncremental(await getGpu(), trained.model, {
    maxLen: window - 1,
    load: weightLoader(trained),
    dims: { B: prompts.length },
  });
  try {
    const r = await decodeRows(dec, prompts, {
      sampling,
      maxTokens: o.maxTokens ?? 200,
      stop: [until, ...tokenizer.encode(o.stop ?? "")],
    });
    return r.tokens.map((ts, i) => ({ text: tokenizer.decode(ts), tokens: ts.length, stoppedBy: r.stoppedBy[i] }));
  } finally {
    dec.destroy();
  }
}
