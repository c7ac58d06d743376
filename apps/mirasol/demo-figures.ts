// demo-figures.ts: what `mira demo --figures FILE` writes — the demo's sizes, cost and accuracies as one
// run measured them — from which `npm run demo:figures` (bench/demo.ts) writes README's and
// docs/models.md's demo figures, so that none of them is typed by hand.
import type { TypeAccuracy } from "./av.js";

export interface DemoFigures {
  /** the day it ran (YYYY-MM-DD, UTC) */
  readonly date: string;
  readonly adapter: string;
  /** a software adapter (lavapipe, llvmpipe), on the CPU */
  readonly software: boolean;
  readonly cores: number;
  /** the 1, 5 and 15 minute load averages when the run ended: other work on the machine */
  readonly load: readonly number[];
  readonly model: string;
  readonly preset: string;
  readonly set: readonly string[];
  readonly params: number;
  readonly clips: number;
  /** `mira data synth --seed` */
  readonly dataSeed: number;
  readonly questions: number;
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  readonly seed: number;
  /** `--types`: the question types' curriculum */
  readonly types: string;
  readonly stepMs: number;
  /** training alone (steps × step time) and the whole demo, self-test and answers included */
  readonly trainSeconds: number;
  readonly wallSeconds: number;
  /** exact match on the validation split, per question type, beside chance */
  readonly accuracy: readonly TypeAccuracy[];
}
