// alternate.ts (bench/ab): training steps of several programs timed in one process, alternately, round by
// round (the order reverses every other round), so that load from other work and the process's own state
// fall on all of them alike. lr 0: every step computes the same values, so each side's last loss can be
// compared where the programs should agree.
import { DEFAULT_ADAMW, stepScalars } from "../../compiler/train-step.js";
import type { Executor } from "../../runtime/executor.js";

export interface Side {
  readonly ex: Executor;
  readonly dispatches: number;
  /** ms of each timed step */
  readonly times: number[];
  /** the loss of the last step */
  loss: number;
}

/** Runs `rounds` rounds of `steps` steps of every side; the first step of each round is not timed. */
export async function alternate(sides: readonly Side[], rounds: number, steps: number): Promise<void> {
  for (let r = 0; r < rounds; r++)
    for (const s of r % 2 ? [...sides].reverse() : sides)
      for (let t = 1; t <= steps; t++) {
        for (const [k, v] of Object.entries(stepScalars(DEFAULT_ADAMW, t, 0))) s.ex.write(k, [v]);
        const t0 = performance.now();
        const out = await s.ex.run(["step.loss"]);
        if (t > 1) s.times.push(performance.now() - t0);
        s.loss = out["step.loss"][0];
      }
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
