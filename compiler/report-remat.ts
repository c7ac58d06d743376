// report-remat.ts: what rematerialisation (remat.ts) saves a training step — the step compiled with it
// beside the same step compiled without — for `mira compile --emit report`. Each is measured twice: by
// the buffers its memory plan allocated (report.ts's split), and by the most bytes its values hold at
// any one step (what the schedule needs; the buffers add what the plan could not pack into it).
import { formatBytes } from "./limits.js";
import { lifetimes } from "./plan.js";
import type { Program } from "./program.js";
import type { MemorySplit } from "./report.js";

export interface RematMemory {
  readonly buffers: MemorySplit;
  /** the most bytes of values alive at one step; inputs, parameters and outputs always are */
  readonly alive: number;
}

export interface RematReport {
  /** blocks the model has: repeat iterations and scan steps, the outermost where they nest */
  readonly blocks: number;
  /** whether the program recomputes them */
  readonly on: boolean;
  /** where on: the same step compiled without rematerialisation, and this one */
  readonly without?: RematMemory;
  readonly with?: RematMemory;
}

/** The most bytes of a program's values alive at one of its steps (each value from the step that first
 *  writes it to the last that reads it), values that outlive a run (fed values, outputs) included. */
export function peakAlive(p: Program): number {
  const { values, steps } = p.memory;
  const life = lifetimes(values, steps);
  const delta = new Array<number>(steps.length + 1).fill(0);
  let always = 0;
  for (const v of values) {
    const l = life.get(v.id)!;
    if (v.persistent || l.first < 0) always += v.bytes;
    else {
      delta[l.first] += v.bytes;
      delta[l.last + 1] -= v.bytes;
    }
  }
  let now = 0;
  let peak = 0;
  for (const d of delta) peak = Math.max(peak, (now += d));
  return always + peak;
}

/** The report's lines: what remat saves where it is on, what it could recompute where it is off. */
export function formatRemat(r: RematReport): string[] {
  if (!r.on || !r.without || !r.with)
    return [
      r.blocks === 0
        ? "  remat        off (the model has no repeat or scan whose blocks could be recomputed)"
        : `  remat        off: ${r.blocks} blocks could be recomputed in the backward pass (config key 'remat')`,
    ];
  const { without: a, with: b } = r;
  const arrow = (x: number, y: number): string => `${formatBytes(x)} → ${formatBytes(y)}`;
  const saves = (x: number, y: number): string =>
    x >= y ? `saves ${formatBytes(x - y)}` : `costs ${formatBytes(y - x)} more`;
  return [
    `  remat        on: ${r.blocks} blocks recomputed in the backward pass (without → with)`,
    `                 buffers ${arrow(a.buffers.total, b.buffers.total)}, ` +
      `activations ${arrow(a.buffers.activations, b.buffers.activations)} ` +
      `(${saves(a.buffers.total, b.buffers.total)})`,
    `                 values alive at once at most ${arrow(a.alive, b.alive)} (${saves(a.alive, b.alive)})`,
  ];
}
