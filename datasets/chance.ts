// chance.ts: the baselines every QA accuracy stands beside. Chance for a question type is the accuracy
// of always giving the type's most frequent TRAINING answer (ties: the answer first in code-point
// order), measured on each split. The same rule keyed by some evidence ("most frequent training answer
// given what one modality shows") measures how much that evidence alone can answer.

export type Split = "train" | "val" | "test";
export const SPLITS: readonly Split[] = ["train", "val", "test"];

/** The most frequent of `answers` (ties broken by code-point order); undefined when there are none. */
export function majorityAnswer(answers: Iterable<string>): string | undefined {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  let best: string | undefined;
  let bestCount = 0;
  for (const [a, n] of counts)
    if (n > bestCount || (n === bestCount && best !== undefined && a < best)) [best, bestCount] = [a, n];
  return best;
}

/** Fraction of `answers` equal to `guess`; null for no answers. */
export function accuracyOf(guess: string, answers: readonly string[]): number | null {
  if (answers.length === 0) return null;
  let hits = 0;
  for (const a of answers) if (a === guess) hits++;
  return hits / answers.length;
}

export interface Chance {
  /** the most frequent answer of this type in the training split */
  readonly answer: string;
  /** accuracy of always answering it, per split (null for an empty split) */
  readonly train: number | null;
  readonly val: number | null;
  readonly test: number | null;
}

export interface Labelled {
  readonly type: string;
  readonly answer: string;
  readonly split: Split;
}

/** Chance per question type, for every type with training questions. */
export function chanceByType(qs: readonly Labelled[]): Record<string, Chance> {
  const answers = new Map<string, Record<Split, string[]>>();
  for (const q of qs) {
    let bySplit = answers.get(q.type);
    if (!bySplit) answers.set(q.type, (bySplit = { train: [], val: [], test: [] }));
    bySplit[q.split].push(q.answer);
  }
  const out: Record<string, Chance> = {};
  for (const [type, s] of answers) {
    const answer = majorityAnswer(s.train);
    if (answer === undefined) continue;
    out[type] = {
      answer,
      train: accuracyOf(answer, s.train),
      val: accuracyOf(answer, s.val),
      test: accuracyOf(answer, s.test),
    };
  }
  return out;
}

export interface Keyed {
  readonly key: string;
  readonly answer: string;
}

/**
 * Accuracy on `test` of answering, for each key, the most frequent training answer of that key (keys
 * unseen in training get the overall training majority): the best any rule that sees only the key can
 * do, estimated on held-out questions.
 */
export function majorityByKeyAccuracy(train: readonly Keyed[], test: readonly Keyed[]): number | null {
  const byKey = new Map<string, string[]>();
  for (const q of train) {
    let list = byKey.get(q.key);
    if (!list) byKey.set(q.key, (list = []));
    list.push(q.answer);
  }
  const fallback = majorityAnswer(train.map((q) => q.answer));
  const guess = new Map([...byKey].map(([k, as]) => [k, majorityAnswer(as)!]));
  if (test.length === 0) return null;
  let hits = 0;
  for (const q of test) if ((guess.get(q.key) ?? fallback) === q.answer) hits++;
  return hits / test.length;
}
