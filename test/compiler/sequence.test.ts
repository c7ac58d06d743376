// sequence.test.ts: sequence kernels (compiler/sequence.ts) — runs of small dispatches as one
// single-workgroup kernel. A stage runs its kernel's own WGSL, so a sequence must give the same bits as
// one dispatch per kernel: random graphs, a training step and a decoding step are compared exactly, at
// the portable limit of 8 storage buffers (short runs, many splits) and at this adapter's.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { derive } from "../../api/decoder.js";
import { loadModel } from "../../api/model.js";
import type { Graph } from "../../compiler/ir.js";
import type { DeviceLimits } from "../../compiler/limits.js";
import { initParams } from "../../compiler/lower.js";
import type { CompileOptions } from "../../compiler/program.js";
import type { Feeds } from "../../compiler/reference.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../../compiler/train-step.js";
import { testGpu } from "../helpers/gpu.js";
import { compareOption } from "../helpers/variants.js";
import { prng } from "./gen.js";
import { graphArb, randomGraph } from "./random-graph.js";

/** With and without sequences (parallel kernels off in both, so that what merges is the sequences' doing). */
const compare = (
  graph: Graph,
  limits: DeviceLimits,
  feeds: (step: number) => Feeds,
  opts: CompileOptions = {},
  steps = 1,
) => compareOption("sequence", graph, limits, feeds, { ...opts, parallel: false }, steps);

describe("sequence kernels equal one dispatch per kernel, bit for bit", () => {
  test("random graphs, at 8 storage buffers per stage and at this adapter's limit", async () => {
    const gpu = await testGpu();
    let merged = 0;
    await fc.assert(
      fc.asyncProperty(graphArb, fc.constantFrom(8, gpu.limits.maxStorageBuffersPerShaderStage), async (g, buffers) => {
        const { graph, draw } = randomGraph(g.shape, g.steps);
        const r = prng(g.seed);
        const feeds = Object.fromEntries([...draw].map(([name, f]) => [name, f(r)]));
        const limits = { ...gpu.limits, maxStorageBuffersPerShaderStage: buffers };
        const p = await compare(graph, limits, () => feeds);
        if (p.merged.dispatches.length < p.plain.dispatches.length) merged++;
      }),
      { numRuns: 16 },
    );
    expect(merged).toBeGreaterThan(8); // the property spoke of sequences, not of programs left as they were
  });

  test("char_lm: three training steps (loss, gradients through AdamW, updated weights)", async () => {
    const gpu = await testGpu();
    const el = loadModel("models/char_lm.mira", { preset: "tiny" }).elaborate({ B: 2, T: 8 });
    const st = buildTrainStep(el.graph, el.objective ?? el.losses[0], DEFAULT_ADAMW, () => true);
    const params = initParams(el.params, 3);
    const tokens = Int32Array.from({ length: 16 }, (_, k) => 1 + ((k * 7) % 90));
    const feeds = (step: number): Feeds => ({
      ...(step === 1 ? Object.fromEntries(params) : {}),
      ...Object.fromEntries(el.inputs.map((i) => [i.name, tokens])),
      ...Object.fromEntries(Object.entries(stepScalars(DEFAULT_ADAMW, step, 1e-3)).map(([k, v]) => [k, [v]])),
    });
    const { merged, plain } = await compare(st.graph, gpu.limits, feeds, { updates: st.updates }, 3);
    expect(merged.dispatches.length * 2).toBeLessThan(plain.dispatches.length);
  }, 400_000); // two programs compiled cold: a sequence kernel compiles slowly on llvmpipe (sequence.ts)

  test("char_lm decoding step: sampled token and logits", async () => {
    const gpu = await testGpu();
    const model = loadModel("models/char_lm.mira", { preset: "tiny" });
    const dec = derive(model, 24);
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
    const { merged, plain } = await compare(dec.step, gpu.limits, () => feeds);
    expect(merged.dispatches.length * 2).toBeLessThan(plain.dispatches.length);
  }, 300_000);
});
