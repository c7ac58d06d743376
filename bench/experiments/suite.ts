// suite.ts (experiments): what one `npm run experiments` run is — its flags, the sizes of its training
// runs (full or --quick), and where its document and plots go. The experiments read it; it runs nothing.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../../runtime/autotune-cache.js";
import { writeFileAtomic } from "../../runtime/checkpoint.js";
import type { Gpu } from "../../runtime/device.js";
import type { DataSet } from "./data-sets.js";
import type { Runner } from "./runs.js";

export const EXPERIMENTS = ["E1", "E2", "E3", "E4"] as const;
export type Experiment = (typeof EXPERIMENTS)[number];

export interface SuiteOptions {
  readonly quick: boolean;
  /** E1: measure step times (off with --no-time) */
  readonly timeIt: boolean;
  readonly only: ReadonlySet<Experiment>;
}

export class SuiteUsageError extends Error {}

export const SUITE_USAGE = "npm run experiments [-- [--quick] [--no-time] [--only E1,E2,E3,E4]]";

export function parseSuiteOptions(argv: readonly string[]): SuiteOptions {
  const only = new Set<Experiment>(EXPERIMENTS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick" || a === "--no-time") continue;
    const value = a === "--only" ? argv[++i] : a.startsWith("--only=") ? a.slice("--only=".length) : undefined;
    if (value === undefined) throw new SuiteUsageError(`unknown argument '${a}'; usage: ${SUITE_USAGE}`);
    only.clear();
    for (const name of value.split(",").map((s) => s.trim().toUpperCase())) {
      if (!(EXPERIMENTS as readonly string[]).includes(name)) throw new SuiteUsageError(`--only takes ${EXPERIMENTS.join(", ")} (comma-separated); got '${name}'`);
      only.add(name as Experiment);
    }
  }
  return { quick: argv.includes("--quick"), timeIt: !argv.includes("--no-time"), only };
}

/** The flags as typed after `npm run experiments --`, for the document's command lines. */
export function suiteCommand(o: SuiteOptions): string {
  const flags = [o.quick ? "--quick" : "", o.timeIt ? "" : "--no-time", o.only.size < EXPERIMENTS.length ? `--only ${[...o.only].join(",")}` : ""].filter(Boolean);
  return `npm run experiments${flags.length ? ` -- ${flags.join(" ")}` : ""}`;
}

/** Sizes of the training experiments (E2–E4): every run is the tiny preset on one synthetic set. */
export interface SuiteSizes {
  /** clips per synthetic set (80 % train, 10 % validation, 10 % test) */
  readonly clips: number;
  readonly dataSeed: number;
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  /** training seeds (initialisation and batch order), the same for every configuration */
  readonly seeds: readonly number[];
  /** validation loss every this many steps (on 8 batches) */
  readonly evalEvery: number;
}

// Full: sized for ≤ 3 hours on this machine (2 cores, llvmpipe). Measured at load ≈ 5 (two other
// training jobs, this one at nice 15): one full-size Transformer run (400 steps of 64) took 3.7 min —
// 454 ms a step plus 37 s of compiling, validation losses and accuracy on 2,400 validation and 2,400
// test questions (12 a clip); evaluating it on the 8-chunk set took 2.5 min. Other step times, scaled
// from a measurement at load 3–4 (Transformer 570 ms): TTM ≈ 650 ms, Perceiver ≈ 470, MeanPool ≈ 370,
// Concat ≈ 720, no AR model ≈ 415. So E2 (5 Combiners × 3 seeds) ≈ 63 min, E3 (five more
// configurations × 3 seeds; its base is E2's Transformer) ≈ 57 min, E4 (E2's Transformer and TTM
// checkpoints on the 4- and 8-chunk sets) ≈ 22 min, E1 ≈ 8 min: ≈ 2 h 30 min in all; a busier machine
// takes longer.
export const FULL_ESTIMATE = "about 2 h 30 min";
export const FULL: SuiteSizes = { clips: 2000, dataSeed: 0, steps: 400, batch: 64, lr: 3e-3, seeds: [1, 2, 3], evalEvery: 100 };
// --quick: a smoke run of every code path (one seed, a few steps, a small set), minutes not hours.
export const QUICK: SuiteSizes = { clips: 200, dataSeed: 0, steps: 12, batch: 16, lr: 3e-3, seeds: [1], evalEvery: 12 };

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
  /** the training set (the tiny preset's 2 chunks), made on first use */
  data(): DataSet;
  runner(): Runner;
  /** "Command: … (N min; load …; adapter …)." for a section that took `ms` */
  provenance(ms: number): string;
}
