// variants.ts: one graph compiled with a compile option off and on, run on the GPU, and compared bit for
// bit (for options that must not change a single result: sequence and parallel kernels, arenas).
import fc from "fast-check";
import { expect } from "vitest";
import { derive } from "../../api/decoder.js";
import { loadModel } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../../compiler/train-step.js";
import { prng } from "./prng.js";
import { graphArb, randomGraph } from "../compiler/random-graph.js";
import type { Graph } from "../../compiler/ir.js";
import type { DeviceLimits } from "../../compiler/limits.js";
import { type CompileOptions, type Program, compileGraph } from "../../compiler/program.js";
import type { Feeds } from "../../compiler/reference.js";
import { Executor } from "../../runtime/executor.js";
import { firstMismatch } from "./close.js";
import { testGpu } from "./gpu.js";

const exact = { atol: 0, rtol: 0 };

/** Runs a program `steps` times (feeding `feeds(step)` first) and returns every run's outputs. */
async function runSteps(
  p: Program,
  feeds: (step: number) => Feeds,
  steps: number,
): Promise<Record<string, Float64Array>[]> {
  const ex = await Executor.create(await testGpu(), p);
  try {
    const out: Record<string, Float64Array>[] = [];
    for (let s = 1; s <= steps; s++) {
      for (const [name, v] of Object.entries(feeds(s))) ex.write(name, v);
      out.push(await ex.run());
    }
    return out;
  } finally {
    ex.destroy();
  }
}

/** `graph` compiled with `option` false (plain) and true (merged): equal bits in every run, and the merged
 *  program never has more dispatches. */
export async function compareOption(
  option: "sequence" | "parallel" | "arenas",
  graph: Graph,
  limits: DeviceLimits,
  feeds: (step: number) => Feeds,
  opts: CompileOptions = {},
  steps = 1,
): Promise<{ merged: Program; plain: Program }> {
  const plain = compileGraph(graph, limits, { ...opts, [option]: false });
  const merged = compileGraph(graph, limits, { ...opts, [option]: true });
  const [a, b] = [await runSteps(plain, feeds, steps), await runSteps(merged, feeds, steps)];
  for (let s = 0; s < steps; s++) {
    for (const name of Object.keys(a[s])) {
      const bad = firstMismatch(b[s][name], a[s][name], exact);
      if (bad) throw new Error(`${option}, run ${s + 1}, ${name}: ${bad}`);
    }
  }
  expect(merged.dispatches.length).toBeLessThanOrEqual(plain.dispatches.length);
  return { merged, plain };
}

/** Random graphs compared with `option` off and on (at 8 storage buffers and at this adapter's limit);
 *  the number of the 16 graphs whose merged program had fewer dispatches. */
export async function randomGraphsMerged(
  option: "sequence" | "parallel" | "arenas",
  opts: CompileOptions = {},
): Promise<number> {
  const gpu = await testGpu();
  let fewer = 0;
  await fc.assert(
    fc.asyncProperty(graphArb, fc.constantFrom(8, gpu.limits.maxStorageBuffersPerShaderStage), async (g, buffers) => {
      const { graph, draw } = randomGraph(g.shape, g.steps);
      const r = prng(g.seed);
      const feeds = Object.fromEntries([...draw].map(([name, f]) => [name, f(r)]));
      const limits = { ...gpu.limits, maxStorageBuffersPerShaderStage: buffers };
      const p = await compareOption(option, graph, limits, () => feeds, opts);
      if (p.merged.dispatches.length < p.plain.dispatches.length) fewer++;
    }),
    { numRuns: 16 },
  );
  return fewer;
}

/** char_lm tiny's training step (B 2, T 8) and the feeds of its steps 1, 2, … (params at step 1). */
export function charLmTrainCase(): { graph: Graph; updates: Record<string, string>; feeds: (step: number) => Feeds } {
  const el = loadModel("models/char_lm.mira", { preset: "tiny" }).elaborate({ B: 2, T: 8 });
  const st = buildTrainStep(el.graph, el.objective ?? el.losses[0], DEFAULT_ADAMW, () => true);
  const params = initParams(el.params, 3);
  const tokens = Int32Array.from({ length: 16 }, (_, k) => 1 + ((k * 7) % 90));
  const feeds = (step: number): Feeds => ({
    ...(step === 1 ? Object.fromEntries(params) : {}),
    ...Object.fromEntries(el.inputs.map((i) => [i.name, tokens])),
    ...Object.fromEntries(Object.entries(stepScalars(DEFAULT_ADAMW, step, 1e-3)).map(([k, v]) => [k, [v]])),
  });
  return { graph: st.graph, updates: st.updates, feeds };
}

/** char_lm tiny's derived decoding step (24 positions) with random weights, caches and token. */
export function charLmDecodeCase(): { graph: Graph; feeds: Record<string, number[]> } {
  const dec = derive(loadModel("models/char_lm.mira", { preset: "tiny" }), 24);
  const r = prng(5);
  const feeds: Record<string, number[]> = {};
  for (const n of dec.step.nodes) {
    if (n.op !== "input" && n.op !== "param") continue;
    const size = n.shape.reduce((a, b) => a * b, 1);
    feeds[n.attrs.name!] =
      n.dtype === "f32"
        ? Array.from({ length: size }, () => r() - 0.5)
        : Array.from({ length: size }, () => Math.floor(r() * 20));
  }
  return { graph: dec.step, feeds };
}
