// text.ts: character-level text data — a tokenizer built from the training text, a train/validation
// split, and batches that are a pure function of (seed, step), so a resumed run sees exactly the data an
// uninterrupted one would, with nothing but the step stored.
import { randomBits } from "../base/random.js";
import { InputError } from "../base/errors.js";

/** Id 0 stands for any character outside the vocabulary (and for end of text when generating). */
export const UNKNOWN_ID = 0;

export class CharTokenizer {
  private readonly index: Map<string, number>;

  /** `chars[i]` is the character of id i + 1. */
  constructor(readonly chars: readonly string[]) {
    this.index = new Map(chars.map((c, i) => [c, i + 1]));
  }

  /** The `vocab − 1` most frequent characters of `text` (ties by code point), in code-point order. */
  static fromText(text: string, vocab: number): CharTokenizer {
    const counts = new Map<string, number>();
    for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
    const byFreq = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, vocab - 1);
    return new CharTokenizer(byFreq.map(([c]) => c).sort());
  }

  get vocabSize(): number {
    return this.chars.length + 1;
  }

  encode(text: string): Int32Array {
    const out: number[] = [];
    for (const c of text) out.push(this.index.get(c) ?? UNKNOWN_ID);
    return Int32Array.from(out);
  }

  decode(ids: ArrayLike<number>): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) s += ids[i] === UNKNOWN_ID ? "\uFFFD" : (this.chars[ids[i] - 1] ?? "\uFFFD");
    return s;
  }

  toJSON(): string {
    return JSON.stringify(this.chars.join(""));
  }

  static fromJSON(json: string): CharTokenizer {
    return new CharTokenizer([...(JSON.parse(json) as string)]);
  }
}

export interface TextSplit {
  readonly train: Int32Array;
  readonly val: Int32Array;
}

/** The last `valFraction` of the text (at least one window) is held out for validation. */
export function splitText(ids: Int32Array, window: number, valFraction = 0.1): TextSplit {
  const valLen = Math.max(window + 1, Math.floor(ids.length * valFraction));
  if (ids.length < valLen + window + 1)
    throw new InputError(
      `the text has ${ids.length} characters; ` +
        `training with windows of ${window} needs at least ${valLen + window + 1}: ` +
        "use a longer text or a smaller window",
    );
  return { train: ids.subarray(0, ids.length - valLen), val: ids.subarray(ids.length - valLen) };
}

/** Training windows for `step`: row r starts at a counter-based random offset of (seed, step, r). */
export function trainBatch(train: Int32Array, step: number, rows: number, window: number, seed: number): Int32Array {
  const out = new Int32Array(rows * window);
  const span = train.length - window + 1;
  for (let r = 0; r < rows; r++) {
    const start = randomBits(seed, step, r) % span;
    out.set(train.subarray(start, start + window), r * window);
  }
  return out;
}

/** Fixed validation windows, evenly spaced over the held-out text, `rows` per batch. */
export function valBatches(val: Int32Array, rows: number, window: number, maxBatches: number): Int32Array[] {
  const starts: number[] = [];
  const count = Math.max(1, Math.min(maxBatches * rows, Math.floor(val.length / window)));
  const stride = (val.length - window) / Math.max(1, count - 1);
  for (let i = 0; i < count; i++) starts.push(Math.round(i * stride));
  const batches: Int32Array[] = [];
  for (let i = 0; i + rows <= starts.length; i += rows) {
    const out = new Int32Array(rows * window);
    for (let r = 0; r < rows; r++) out.set(val.subarray(starts[i + r], starts[i + r] + window), r * window);
    batches.push(out);
  }
  return batches;
}
