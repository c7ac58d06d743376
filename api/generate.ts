// generate.ts (api): `generate(...)` — text from a trained checkpoint, by full recomputation of the
// forward pass for each new token (the KV-cache decoder is its own issue). The model sees at most its
// training window: past it, the last `window − 1` tokens are kept (the positions it learned to predict from).
import { compileGraph } from "../compiler/program.js";
import { CheckpointError } from "../runtime/checkpoint.js";
import { CharTokenizer, UNKNOWN_ID } from "../runtime/data/text.js";
import { getGpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { type SamplingOptions, sampleToken } from "../runtime/sampling.js";
import { ModelError } from "./model.js";
import { loadWeights, openTrained } from "./trained.js";
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
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
  /** called with each new piece of text as it is produced */
  readonly onText?: (piece: string) => void;
}

export interface GenerateResult {
  readonly text: string; // the generated continuation (without the prompt)
  readonly tokens: number;
  readonly stoppedBy: "max-tokens" | "stop-token";
}

export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const trained = openTrained(o.checkpoint, "text", "'mira generate --prompt'");
  const { meta, model } = trained;
  if (!meta.tokenizer || !meta.window) throw new CheckpointError(`${o.checkpoint} was not written by 'mira train' (its metadata lacks tokenizer or window)`);
  const tokenizer = CharTokenizer.fromJSON(meta.tokenizer);
  const window = Number(meta.window);
  const el = model.elaborate({ B: 1, T: window });
  const io = languageModelIO(el);
  if (!io.logits) throw new ModelError(`${meta.model}: the model has no 'generate' declaration naming its logits`);
  const logitsOut = el.graph.outputs.find((x) => x.name === io.logits)!;
  const program = compileGraph({ nodes: el.graph.nodes, outputs: [logitsOut] }, (await getGpu()).limits);
  const ex = await Executor.create(await getGpu(), program);
  try {
    loadWeights(ex, trained);
    const sampling: SamplingOptions = { temperature: o.temperature ?? 0.8, topK: o.topK ?? 0, topP: o.topP ?? 1, seed: o.seed ?? 1 };
    const stop = el.generate?.until ?? UNKNOWN_ID;
    const ids = [...tokenizer.encode(o.prompt)];
    if (ids.length === 0) ids.push(tokenizer.encode("\n")[0] ?? UNKNOWN_ID);
    const vocab = logitsOut ? (el.graph.nodes.find((n) => n.id === logitsOut.id)!.shape.at(-1) ?? 0) : 0;
    const input = new Int32Array(window);
    const produced: number[] = [];
    let stoppedBy: GenerateResult["stoppedBy"] = "max-tokens";
    for (let step = 0; step < (o.maxTokens ?? 200); step++) {
      const context = generationContext(ids, window);
      input.fill(0);
      input.set(context);
      ex.write(io.tokens, input);
      const logits = (await ex.run([io.logits]))[io.logits];
      const row = logits.subarray((context.length - 1) * vocab, context.length * vocab);
      const next = sampleToken(row, sampling, step);
      if (next === stop) {
        stoppedBy = "stop-token";
        break;
      }
      ids.push(next);
      produced.push(next);
      o.onText?.(tokenizer.decode([next]));
    }
    return { text: tokenizer.decode(produced), tokens: produced.length, stoppedBy };
  } finally {
    ex.destroy();
  }
}
