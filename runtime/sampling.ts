// sampling.ts: choosing the next token from a row of logits — greedy, temperature, top-k and top-p —
// seeded and reproducible: the draw of row r at step t depends only on (seed, t, r), through the
// counter-based hash the random_uniform op uses. The decoder's programs choose tokens on the GPU with
// the same rule (compiler/decode/sample.ts, which states it); this is its float64 reference on the
// host, used where logits are on the host anyway (full recomputation, `--no-cache`) and by the tests.
import { SAMPLE_STREAM } from "../compiler/decode/sample.js";
import { bitsToUnit, randomBits } from "../base/random.js";

export interface SamplingOptions {
  /** 0 means greedy */
  readonly temperature: number;
  /** keep only the k most likely tokens (0: all) */
  readonly topK: number;
  /** keep the smallest set of tokens whose probability reaches p (1: all) */
  readonly topP: number;
  readonly seed: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

/** The index of the largest value (the first of equals): the greedy choice. */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** The seed of step `step`'s draws (a u32; the sampler's random_uniform hashes it with the row). */
export const drawSeed = (seed: number, step: number): number => randomBits(seed >>> 0, SAMPLE_STREAM, step >>> 0);

/** Uniform in [0, 1) for row `row` at step `step`: random_uniform(drawSeed(seed, step))[row]. */
export const drawUnit = (seed: number, step: number, row: number): number =>
  bitsToUnit(randomBits(drawSeed(seed, step), SAMPLE_STREAM, row));

/** The values the sampler's inputs take (compiler/decode/sample.ts SAMPLE), for a vocabulary of `width`. */
export function samplerInputs(
  o: SamplingOptions,
  step: number,
  width: number,
): { seed: number; temperature: number; topK: number; topP: number } {
  return {
    seed: drawSeed(o.seed, step),
    temperature: Math.max(0, o.temperature),
    topK: o.topK > 0 ? Math.min(o.topK, width) : width,
    topP: o.topP >= 1 ? 2 : Math.max(o.topP, 1e-30), // p ≤ 0 keeps the best token alone
  };
}

/** Tokens in rank order: larger logits first, the lower index first among equals. */
export function rankOrder(logits: ArrayLike<number>): number[] {
  return Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
}

/** The tokens top-k and top-p keep, in rank order (before any draw). */
export function keptTokens(logits: ArrayLike<number>, o: SamplingOptions): number[] {
  const order = rankOrder(logits);
  const { topK, topP } = samplerInputs(o, 0, logits.length);
  const max = logits[order[0]];
  const inK = order.slice(0, topK);
  const w = inK.map((i) => Math.exp((logits[i] - max) / o.temperature));
  const zk = w.reduce((a, c) => a + c, 0);
  const kept: number[] = [];
  let before = 0;
  for (let j = 0; j < inK.length; j++) {
    if (before / zk < topP) kept.push(inK[j]);
    before += w[j];
  }
  return kept;
}

/** The token row `row` of a batch draws at step `step` (greedy when the temperature is ≤ 0). */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, step: number, row = 0): number {
  if (o.temperature <= 0) return argmax(logits);
  const kept = keptTokens(logits, o);
  const max = logits[kept[0]];
  const w = kept.map((i) => Math.exp((logits[i] - max) / o.temperature));
  const z = w.reduce((a, c) => a + c, 0);
  const u = drawUnit(o.seed, step, row) * z;
  let chosen = kept[0];
  let before = 0;
  for (let j = 0; j < kept.length; j++) {
    if (w[j] > 0 && before <= u) chosen = kept[j];
    before += w[j];
  }
  return chosen;
}
