// summary.ts (experiments): accuracies of several seeds of one configuration, per question type — mean,
// range, chance, and how many seeds are above chance by more than sampling noise — and the words and
// table cells the sections print from them, so that every verdict in the document is computed.
import type { TypeAccuracy } from "../../apps/mirasol/av.js";

export interface TypeSummary {
  readonly type: string;
  readonly needs: readonly string[];
  /** chance on the split evaluated (the same data for every seed) */
  readonly chance: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** seeds whose accuracy is above chance by more than two standard errors */
  readonly above: number;
  readonly seeds: number;
  readonly questions: number;
}

/**
 * Above chance by more than two standard errors of an always-the-same-answer guesser on this many
 * questions (√(c(1 − c)/n); 200 test questions at chance 25 % → 6.1 points): a difference a run
 * can reach by luck about one time in forty.
 */
export const aboveChance = (a: TypeAccuracy): boolean =>
  a.accuracy - a.chance > 2 * Math.sqrt((a.chance * (1 - a.chance)) / Math.max(a.questions, 1));

/** Per question type over the runs (one TypeAccuracy list per seed, in the same type order). */
export function summarise(runs: readonly (readonly TypeAccuracy[])[]): TypeSummary[] {
  return (runs[0] ?? []).map((t, i) => {
    const xs = runs.map((r) => r[i]);
    const acc = xs.map((a) => a.accuracy);
    return {
      type: t.type,
      needs: t.needs,
      chance: xs.reduce((s, a) => s + a.chance, 0) / xs.length,
      mean: mean(acc),
      min: Math.min(...acc),
      max: Math.max(...acc),
      above: xs.filter(aboveChance).length,
      seeds: xs.length,
      questions: t.questions,
    };
  });
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export const pct = (x: number): string => (100 * x).toFixed(1);

/** "mean [min–max]", bold when every seed is above chance, with "k/n above" when only some are. */
export function cell(s: TypeSummary): string {
  const range = s.seeds > 1 ? ` [${pct(s.min)}–${pct(s.max)}]` : "";
  const text = `${pct(s.mean)}${range}`;
  if (s.above === s.seeds) return `**${text}**`;
  return s.above > 0 ? `${text} (${s.above}/${s.seeds} above)` : text;
}

/** The header cell of a type's column: its name and the modalities it needs. */
export const typeHeader = (t: { type: string; needs: readonly string[] }): string => `${t.type} (${t.needs.join("+")})`;

/** Points above chance, averaged over the types. */
export const meanExcess = (ss: readonly TypeSummary[]): number =>
  (100 * ss.reduce((s, t) => s + t.mean - t.chance, 0)) / Math.max(ss.length, 1);

/** "a", "a and b", "a, b and c". */
export function listWords(xs: readonly string[]): string {
  return xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`;
}

/** Types that need both modalities (the ones the paper's claims are about). */
export const isJoint = (t: { needs: readonly string[] }): boolean => t.needs.length > 1;

export const signed = (x: number, digits = 1): string => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(digits)}`;
