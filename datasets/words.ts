// words.ts: a word-level tokenizer over a fixed vocabulary (the QA set's question and answer words),
// and the model's text rows: question, answer, eos, padding, with the loss mask on answer and eos.
// Ids 0, 1, 2 are pad, bos and eos; bos is models/mirasol.mira's `start` (the model prepends it), eos
// its `eos`. Words are separated by single spaces ("?" is a word).
import { DataError } from "./av-format.js";
import { InputError } from "../base/errors.js";

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const SPECIALS = ["<pad>", "<bos>", "<eos>"] as const;

export class WordTokenizer {
  private readonly ids: Map<string, number>;

  /** `vocab[i]` is the word of id i; the first three must be SPECIALS. */
  constructor(readonly vocab: readonly string[]) {
    SPECIALS.forEach((s, i) => {
      if (vocab[i] !== s)
        throw new DataError(`a vocabulary starts with ${SPECIALS.join(", ")}; got '${vocab[i]}' at id ${i}`);
    });
    this.ids = new Map(vocab.map((w, i) => [w, i]));
    if (this.ids.size !== vocab.length) throw new DataError("a vocabulary holds each word once");
  }

  static fromWords(words: readonly string[]): WordTokenizer {
    return new WordTokenizer([...SPECIALS, ...words]);
  }

  get size(): number {
    return this.vocab.length;
  }

  id(word: string): number {
    const i = this.ids.get(word);
    if (i === undefined)
      throw new InputError(`'${word}' is not in the vocabulary (${this.vocab.slice(SPECIALS.length).join(" ")})`);
    return i;
  }

  encode(text: string): number[] {
    return text
      .trim()
      .split(/\s+/)
      .filter((w) => w.length > 0)
      .map((w) => this.id(w));
  }

  /** Words of `ids`, stopping at eos and skipping pad. */
  decode(ids: ArrayLike<number>): string {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === EOS) break;
      if (ids[i] !== PAD) out.push(this.vocab[ids[i]] ?? `<${ids[i]}>`);
    }
    return out.join(" ");
  }
}

/**
 * Writes one row of `text` [L] and `mask` [L]: the question's ids, the answer's, eos, then pad; the
 * mask is 1 on the answer's ids and eos (what the text loss counts), 0 on the question and padding.
 * Returns the question's length (where the answer starts).
 */
export function encodeRow(
  t: WordTokenizer,
  question: string,
  answer: string,
  text: Int32Array,
  mask: Float32Array,
): number {
  const q = t.encode(question);
  const a = t.encode(answer);
  const n = q.length + a.length + 1;
  if (n > text.length)
    throw new InputError(
      `question and answer need ${n} tokens but rows hold ${text.length}: '${question}' → '${answer}'; shorten them`,
    );
  text.fill(PAD);
  mask.fill(0);
  text.set(q, 0);
  text.set(a, q.length);
  text[q.length + a.length] = EOS;
  mask.fill(1, q.length, n);
  return q.length;
}
