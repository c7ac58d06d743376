// decode.ts: an incremental decoder derived from a model's forward graph and its `generate`
// declaration — a prefill program over the prompt and a one-step program with K/V caches — with no
// decoder written by hand. decode/analyze.ts tags every value of the generated output's cone as a row
// of the sequence, a function of the position, or free of it (and rejects ops that mix positions, other
// than causal self-attention); decode/rewrite.ts rebuilds the graph for P positions (prefill) and for
// one position (step). The programs share weights, caches and kept values by param name
// (runtime/decode.ts runs them). Both end with the sampler (decode/sample.ts), so a run can return the
// next token of each batch row instead of its logits.
import type { Sources } from "../dsl/diagnostics.js";
import type { Graph } from "./ir.js";
import type { Elaborated } from "./lower.js";
import { ANALYSIS_LENGTHS, type Analysis, analyze } from "./decode/analyze.js";
import { DecodeError, locator } from "./decode/error.js";
import { type CacheSpec, cacheSpecs, memoName, prefillGraph, stepGraph } from "./decode/rewrite.js";
import { batchAxes } from "./decode/rows.js";
import { prod } from "./shape.js";

export { DecodeError } from "./decode/error.js";
export type { CacheSpec } from "./decode/rewrite.js";
export { LENGTHS, NEXT, POS } from "./decode/rewrite.js";
export { SAMPLE } from "./decode/sample.js";

export interface DeriveOptions {
  /** positions the caches hold: prompt and generated tokens together */
  readonly maxLen: number;
  /** source texts, so errors print file:line:col */
  readonly sources?: Sources;
  /** the prefill reads each row's prompt length (LENGTHS), so one prefill program serves every prompt
   *  up to its own length (always so with more than one batch row) */
  readonly lengths?: boolean;
}

export interface Decoder {
  /** the generated input (its row for one position is fed to the step) */
  readonly input: string;
  /** batch rows: each step feeds one token per row; with more than one, each row is at its own
   *  position (POS [batch]) and the prefill reads each row's prompt length (LENGTHS) */
  readonly batch: number;
  /** whether the prefill reads LENGTHS (prompts padded at the end) */
  readonly lengths: boolean;
  /** values of the output per batch row at one position (the vocabulary, for logits) */
  readonly width: number;
  readonly maxLen: number;
  /** inputs the prefill reads besides the generated one (an audio-video clip) */
  readonly otherInputs: readonly string[];
  readonly caches: readonly CacheSpec[];
  /** params written by the prefill and read by every step (encoder outputs, cross-attention K/V) */
  readonly memos: readonly string[];
  /** the step graph: inputs `input` [batch, 1], POS and the sampler's (SAMPLE); outputs NEXT and
   *  SAMPLE.token (each row's drawn token) */
  readonly step: Graph;
  /** the prefill graph for P prompt positions (outputs NEXT: the last position's row, and
   *  SAMPLE.token) and the
   *  output → param copies that keep its memo values (CompileOptions.updates) */
  prefill(P: number): { graph: Graph; updates: Readonly<Record<string, string>> };
  readonly analysis: Analysis;
}

/** The model elaborated with its generated input of length T (and, when given, `batch` rows). */
export type ElabAt = (T: number, batch?: number) => Elaborated;

/** Derives the decoder of the model elaborated by `elabAt(T)` (T: the generated input's length). With
 *  more than one batch row, the model is also elaborated at one more row, to find batch axes. */
export function deriveDecoder(elabAt: ElabAt, opts: DeriveOptions): Decoder {
  if (!Number.isInteger(opts.maxLen) || opts.maxLen < 1)
    throw new DecodeError(`the maximum length must be a whole number ≥ 1, got ${opts.maxLen}`);
  const [e2, e3, e4] = ANALYSIS_LENGTHS.map((T) => elabAt(T));
  const loc = locator(e2.origins, opts.sources);
  const an = analyze([e2, e3, e4], loc);
  // A table sliced to the sequence (learned positions) must hold every position the caches do: a
  // gather past its end would read zeros where the forward pass cannot even be built.
  for (const id of an.sources) {
    const n = an.byId.get(id)!;
    if (n.op !== "slice") continue; // iota and other generated sources have no table to run past
    const s = an.seq.get(id)!;
    const rows = an.byId.get(n.inputs[0])!.shape[s.axis];
    const need = (n.attrs.starts?.[s.axis] ?? 0) + opts.maxLen + s.off;
    if (rows < need)
      throw loc.error(
        n,
        `reads ${need} rows of a table of ${rows}: caches of ${opts.maxLen} positions exceed the model's length`,
      );
  }
  const caches = cacheSpecs(an, opts.maxLen);
  const batch = an.input.shape[0];
  const lengths = batch > 1 || (opts.lengths ?? false);
  const rows = lengths ? batchAxes(an, elabAt(ANALYSIS_LENGTHS[0], batch + 1), loc) : undefined;
  const step = stepGraph(an, caches, batch > 1 ? rows : undefined, loc);
  const out = an.output;
  const otherInputs = an.g2.nodes.filter((n) => n.op === "input" && n.id !== an.input.id).map((n) => n.attrs.name!);
  return {
    input: an.input.attrs.name!,
    batch,
    lengths,
    width: prod(out.shape) / (batch * out.shape[an.seq.get(out.id)!.axis]),
    maxLen: opts.maxLen,
    otherInputs,
    caches,
    memos: an.memo.map((_, i) => memoName(i)),
    step,
    prefill: (P) => {
      if (!Number.isInteger(P) || P < 1 || P > opts.maxLen)
        throw new DecodeError(`a prompt of ${P} positions does not fit caches of ${opts.maxLen}`);
      return prefillGraph(an, P, caches, rows);
    },
    analysis: an,
  };
}
