// report-passes.ts: how compileGraph got from the graph to the program — each graph pass with the nodes
// it left, then the dispatches the schedule made and the buffers they were allocated — for
// `mira compile --emit report`. Counts, not timings.
import type { PassLog } from "./pipeline.js";
import type { Program } from "./program.js";

export interface PassReport {
  readonly passes: readonly PassLog[];
  readonly dispatches: number;
  readonly kernels: number;
  readonly buffers: number;
}

export function reportPasses(p: Program): PassReport {
  return { passes: p.passes, dispatches: p.dispatches.length, kernels: p.kernels.length, buffers: p.buffers.length };
}

export function formatPasses(r: PassReport): string {
  const width = Math.max(8, ...r.passes.map((x) => x.name.length));
  const line = (name: string, what: string): string => `    ${name.padEnd(width)}  ${what}`;
  return [
    "  passes (in order, with what each leaves):",
    ...r.passes.map((x) => line(x.name, `${x.nodes} nodes`)),
    line("schedule", `${r.dispatches} dispatches (${r.kernels} distinct kernels)`),
    line("allocate", `${r.buffers} buffers`),
  ].join("\n");
}
