// mirasol.ts (tests): a tiny Mirasol trained for a few steps, as the suites that need a checkpoint train it.
import { train } from "../../apps/mirasol/train-av.js";

export interface TinyRun {
  readonly data: string;
  readonly runsDir: string;
  readonly run: string;
  readonly steps: number;
  readonly logEvery: number;
  readonly evalBatches: number;
  readonly set?: readonly string[];
}

/** Trains models/mirasol.mira (tiny) on `data` at batch 4 and lr 3e-3, evaluating and checkpointing after
 *  the last step. */
export function trainTinyMirasol(o: TinyRun): ReturnType<typeof train> {
  return train({
    model: "models/mirasol.mira",
    preset: "tiny",
    batch: 4,
    lr: 3e-3,
    evalEvery: o.steps,
    checkpointEvery: o.steps,
    ...o,
  });
}
