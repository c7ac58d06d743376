// suite.ts (experiments): what one `npm run experiments` run is — its flags, the sizes of its training
// runs (full or --quick), and where its document and plots go. The experiments read it; it runs nothing.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { avCurriculum } from "../../apps/mirasol/av-recipe.js";
import { cacheRoot } from "../../runtime/autotune-cache.js";
import { writeFileAtomic } from "../../runtime/checkpoint.js";
import type { Gpu } from "../../runtime/device.js";
import type { DataSet } from "./data-sets.js";
import type { Runner, SuiteSizes } from "./runs.js";
import { MiraError } from "../../base/errors.js";

export const EXPERIMENTS = ["E1", "E2", "E2L", "E3", "E4"] as const;
export type Experiment = (typeof EXPERIMENTS)[number];

export interface SuiteOptions {
  readonly quick: boolean;
  /** E1: measure step times (off with --no-time) */
  readonly timeIt: boolean;
  readonly only: ReadonlySet<Experiment>;
  /** --seeds: train only these of the sizes' seeds (runs already on disk are reused, so a suite can be
   *  completed over several sittings) */
  readonly seeds?: readonly number[];
}

export class SuiteUsageError extends MiraError {
  readonly kind = "bad-input";
}

export const SUITE_USAGE = "npm run experiments [-- [--quick] [--no-time] [--only E1,E2,E2L,E3,E4] [--seeds 1,2,3]]";

export function parseSuiteOptions(argv: readonly string[]): SuiteOptions {
  const only = new Set<Experiment>(EXPERIMENTS);
  let seeds: number[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick" || a === "--no-time") continue;
    const flag = ["--only", "--seeds"].find((f) => a === f || a.startsWith(`${f}=`));
    const value = flag === undefined ? undefined : a === flag ? argv[++i] : a.slice(flag.length + 1);
    if (value === undefined) throw new SuiteUsageError(`unknown argument '${a}'; usage: ${SUITE_USAGE}`);
    if (flag === "--seeds") {
      seeds = value.split(",").map((x) => Number(x.trim()));
      if (!seeds.every((x) => Number.isInteger(x) && x >= 0))
        throw new SuiteUsageError(`--seeds takes seeds as whole numbers, comma-separated; got '${value}'`);
      continue;
    }
    only.clear();
    for (const name of value.split(",").map((s) => s.trim().toUpperCase())) {
      if (!(EXPERIMENTS as readonly string[]).includes(name))
        throw new SuiteUsageError(`--only takes ${EXPERIMENTS.join(", ")} (comma-separated); got '${name}'`);
      only.add(name as Experiment);
    }
  }
  return { quick: argv.includes("--quick"), timeIt: !argv.includes("--no-time"), only, ...(seeds ? { seeds } : {}) };
}

/** The flags as typed after `npm run experiments --`, for the document's command lines. */
export function suiteCommand(o: SuiteOptions): string {
  const flags = [
    o.quick ? "--quick" : "",
    o.timeIt ? "" : "--no-time",
    o.only.size < EXPERIMENTS.length ? `--only ${[...o.only].join(",")}` : "",
    o.seeds ? `--seeds ${o.seeds.join(",")}` : "",
  ].filter(Boolean);
  return `npm run experiments${flags.length ? ` -- ${flags.join(" ")}` : ""}`;
}

// Full: 500 steps of 64 through the curriculum with its stages at steps 100 and 300, the demo's recipe
// (README); at this budget the audio+video types are only beginning to be learned (docs/experiments.md,
// E2). Measured here (session 8, docs/experiments.md): a run 3.5–6.4 min, E4's 30 evaluations 10.2 min,
// E1 7.3 min with a warm Mesa shader cache (19.3 cold). Runs since: E2 7 Combiners × 3 seeds (21 runs),
// E4 2 position choices beyond E2's learned ones × 2 Combiners × 3 seeds (12 runs and their evaluations),
// E3 9 configurations beyond E2's base × 3 seeds (27 runs): 60 runs, ≈ 5 h 15 min; then E2L, 2 Combiners ×
// 3 seeds at four times the steps (6 runs of ≈ 15–25 min, ≈ 2 h). Past the 3 hours one sitting should take,
// so `--only` and `--seeds` split it (finished runs are kept and reused).
export const FULL_ESTIMATE = "about 7 h 15 min";
export const FULL: SuiteSizes = {
  clips: 4000,
  dataSeed: 0,
  steps: 500,
  batch: 64,
  lr: 3e-3,
  seeds: [1, 2, 3],
  e3Seeds: 3,
  evalEvery: 100,
  types: avCurriculum(100, 300),
};
// --quick: a smoke run of every code path (one seed, a few steps, a small set), minutes not hours.
export const QUICK: SuiteSizes = {
  clips: 200,
  dataSeed: 0,
  steps: 12,
  batch: 16,
  lr: 3e-3,
  seeds: [1],
  e3Seeds: 1,
  evalEvery: 12,
  types: avCurriculum(2, 6),
};

/** E2L: E2's two main Combiners trained four times as long, with the curriculum's stages at the same
 *  fractions of the run — the budget at which the audio+video types can be learned (#22). */
export const LONG_FACTOR = 4;

/** `sizes` made LONG_FACTOR times as long: steps, the step each curriculum stage starts at, and the
 *  evaluation interval. */
export function longSizes(sizes: SuiteSizes): SuiteSizes {
  const types = sizes.types.replace(/@(\d+)/g, (_, from: string) => `@${Number(from) * LONG_FACTOR}`);
  return { ...sizes, steps: sizes.steps * LONG_FACTOR, types, evalEvery: sizes.evalEvery * LONG_FACTOR };
}

/** The sizes a run uses: --quick's or the full ones, with --seeds' subset. */
export function suiteSizes(o: SuiteOptions): SuiteSizes {
  const base = o.quick ? QUICK : FULL;
  return o.seeds ? { ...base, seeds: o.seeds } : base;
}

/** E3's seeds: the first `e3Seeds` of the run's seeds. */
export const e3SeedsOf = (s: SuiteSizes): readonly number[] => s.seeds.slice(0, s.e3Seeds);

/** Where a run's document and plots go: docs/ for a full run, .mira-cache/experiments/quick/ for a
 *  --quick one, so that a smoke run never overwrites the measured results. */
export function docPaths(quick: boolean): { readonly doc: string; readonly plots: string } {
  const dir = quick ? join(cacheRoot(), "experiments", "quick") : join(import.meta.dirname, "..", "..", "docs");
  return { doc: join(dir, "experiments.md"), plots: join(dir, "experiments") };
}

export const COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

/** Writes `svg` as PLOTS/<file>; returns the markdown image that shows it from the document. */
export function writePlot(plots: string, file: string, svg: string, alt: string): string {
  mkdirSync(plots, { recursive: true });
  writeFileAtomic(join(plots, file), new TextEncoder().encode(svg));
  return `![${alt}](experiments/${file})`;
}

export const minutes = (ms: number): string => (ms / 60000).toFixed(1);

/** What every experiment is given. */
export interface Suite {
  readonly options: SuiteOptions;
  readonly sizes: SuiteSizes;
  readonly gpu: Gpu;
  /** the document the sections go to (docPaths) */
  readonly doc: string;
  /** writes a plot beside the document; returns its markdown image */
  plot(file: string, svg: string, alt: string): string;
  /** the training set (AV_LAYOUT's chunks and frames), made on first use */
  data(): DataSet;
  runner(): Runner;
  /** "Command: … (N min; load …; adapter …)." for a section that took `ms` */
  provenance(ms: number): string;
}
