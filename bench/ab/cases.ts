// cases.ts (bench/ab): the training steps the A/B benchmarks time (bench/ab/step.ts across checkouts,
// bench/ab/option.ts across compile options): a language model, Mirasol tiny at batch 8 and at E2's
// batch 64 with either Combiner, and the TTM Combiner over 32 chunks at batch 1.
export interface Case {
  readonly label: string;
  readonly file: string;
  readonly preset?: string;
  readonly set?: string[];
  readonly batch: Record<string, number>;
}

const TTM = "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)";
export const CASES: Case[] = [
  { label: "char_lm B16 T64", file: "models/char_lm.mira", batch: { B: 16, T: 64 } },
  { label: "Mirasol tiny B8 L16", file: "models/mirasol.mira", preset: "tiny", batch: { B: 8, L: 16 } },
  {
    label: "Mirasol tiny TTM, 32 chunks, B1 L16",
    file: "models/mirasol.mira",
    preset: "tiny",
    set: ["chunks=32", "max_chunks=32", TTM],
    batch: { B: 1, L: 16 },
  },
  // E2's configuration (docs/experiments.md): the tiny preset at batch 64, with either Combiner
  { label: "Mirasol tiny B64 L16 (E2)", file: "models/mirasol.mira", preset: "tiny", batch: { B: 64, L: 16 } },
  {
    label: "Mirasol tiny TTM B64 L16 (E2)",
    file: "models/mirasol.mira",
    preset: "tiny",
    set: [TTM],
    batch: { B: 64, L: 16 },
  },
];
