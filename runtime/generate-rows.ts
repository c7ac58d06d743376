// generate-rows.ts: generation for a batch of prompts of different lengths with the derived decoder —
// one prefill over the prompts padded to the longest (each row's length given, so each row's first
// token comes from its own last prompt position), then one step per token for all rows at once, each
// row at its own position. Tokens are drawn on the GPU and only their ids come back. A row ends at a
// stop token (not kept), after `maxTokens`, or when the caches are full; finished rows ride along
// (their draws ignored) until every row has ended.
import type { IncrementalDecoder } from "./decode.js";
import type { SamplingOptions } from "./sampling.js";
import { InputError } from "../base/errors.js";

export interface RowsOptions {
  readonly sampling: SamplingOptions;
  /** tokens generated per row at most */
  readonly maxTokens: number;
  /** tokens that end a row (they are not part of its text) */
  readonly stop?: readonly number[];
  /** the model's other inputs, for every batch row (an A/V clip per row) */
  readonly feeds?: Readonly<Record<string, ArrayLike<number>>>;
}

export type RowStop = "stop-token" | "max-tokens" | "full";

export interface RowsResult {
  /** each prompt's generated tokens */
  readonly tokens: number[][];
  readonly stoppedBy: RowStop[];
}

/** Generates from each of `prompts` (at most the decoder's batch rows; spare rows idle). */
export async function decodeRows(
  dec: IncrementalDecoder,
  prompts: readonly (readonly number[])[],
  o: RowsOptions,
): Promise<RowsResult> {
  const B = dec.batch;
  const n = prompts.length;
  if (n < 1 || n > B)
    throw new InputError(
      `the decoder has ${B} batch rows; got ${n} prompts: give 1 to ${B}, or open the decoder with more rows`,
    );
  if (prompts.some((p) => p.length < 1))
    throw new InputError("every prompt needs at least one token; drop the empty ones");
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1)
    throw new InputError(`maxTokens must be a whole number ≥ 1, got ${o.maxTokens}`);
  const lengths = Array.from({ length: B }, (_, r) => (r < n ? prompts[r].length : 1));
  const P = Math.max(...lengths);
  const padded = new Int32Array(B * P);
  prompts.forEach((p, r) => padded.set(p, r * P));
  const stop = new Set(o.stop ?? []);
  const tokens: number[][] = prompts.map(() => []);
  const stoppedBy: (RowStop | undefined)[] = prompts.map(() => undefined);
  const active = Array.from({ length: B }, (_, r) => r < n);
  const last = new Int32Array(B);
  let out = await dec.prefillSample(padded, { sampling: o.sampling, step: 0 }, o.feeds, lengths);
  for (let step = 1; ; step++) {
    const at = dec.positions;
    for (let r = 0; r < n; r++) {
      if (!active[r]) continue;
      const t = out.tokens[r];
      const end: RowStop | undefined = stop.has(t) ? "stop-token" : undefined;
      if (!end) {
        tokens[r].push(t);
        last[r] = t;
      }
      stoppedBy[r] =
        end ?? (tokens[r].length >= o.maxTokens ? "max-tokens" : at[r] >= dec.capacity ? "full" : undefined);
      if (stoppedBy[r]) active[r] = false;
    }
    if (!active.some((a) => a)) break;
    out = await dec.stepSample(last, { sampling: o.sampling, step }, active);
  }
  return { tokens, stoppedBy: stoppedBy.map((s) => s!) };
}
