// sampling.ts: choosing the next token from a row of logits — greedy, temperature, top-k and top-p —
// seeded and reproducible (counter-based: the draw for step t depends only on (seed, t)).
import { bitsToUnit, randomBits } from "../compiler/ops/scalar-math.js";

export interface SamplingOptions {
  /** 0 means greedy */
  readonly temperature: number;
  /** keep only the k most likely tokens (0: all) */
  readonly topK: number;
  /** keep the smallest set of tokens whose probability reaches p (1: all) */
  readonly topP: number;
  readonly seed: number;
}

/** The index of the largest value (the first of equals): the greedy choice. */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, step: number): number {
  const n = logits.length;
  if (o.temperature <= 0) return argmax(logits);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const keep = o.topK > 0 ? order.slice(0, o.topK) : order;
  const max = logits[keep[0]];
  const weights = keep.map((i) => Math.exp((logits[i] - max) / o.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let cut = keep.length;
  if (o.topP < 1) {
    let acc = 0;
    for (let j = 0; j < keep.length; j++) {
      acc += weights[j] / total;
      if (acc >= o.topP) {
        cut = j + 1;
        break;
      }
    }
  }
  const kept = weights.slice(0, cut);
  const z = kept.reduce((a, b) => a + b, 0);
  let u = bitsToUnit(randomBits(o.seed, step, 0)) * z;
  for (let j = 0; j < cut; j++) {
    u -= kept[j];
    if (u < 0) return keep[j];
  }
  return keep[cut - 1];
}
