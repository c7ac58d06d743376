// optim.test.ts: the optimizer's ops (ops/optim.ts) — multi-tensor AdamW written in place and the grouped
// sum of squares — on the GPU against their float64 references, for fast-check-drawn parameter counts
// and shapes (size 1, primes, rank 0), within each op's stated tolerance; dispatch counts follow the
// binding limit; and a training step built either way (multi-tensor vs per-parameter primitives)
// computes the same step on the reference and on the GPU.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { grad } from "../../compiler/grad.js";
import type { Graph } from "../../compiler/ir.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { initParams } from "../../compiler/lower.js";
import { OPS } from "../../compiler/ops/index.js";
import { adamwState } from "../../compiler/ops/optim.js";
import { validateMemoryPlan } from "../../compiler/plan.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import {
  DEFAULT_ADAMW,
  type OptimizerForm,
  buildTrainStep,
  momentName,
  stepScalars,
} from "../../compiler/train-step.js";
import { Executor } from "../../runtime/executor.js";
import { decaysByDefault } from "../../compiler/train-model.js";
import { expectClose, firstMismatch } from "../helpers/close.js";
import { runOnGpu, testGpu } from "../helpers/gpu.js";
import { trainSteps } from "../helpers/train-steps.js";
import { prng, runs, seedArb } from "./gen.js";

/** Shapes of parameters: rank 0 to 3 over sizes 1, primes and one past a workgroup. */
const paramShape = fc.array(fc.constantFrom(1, 2, 3, 5, 7, 13, 257), { maxLength: 3 }).filter((s) => prod(s) <= 3000);

interface Case {
  readonly graph: Graph;
  readonly updates: Record<string, string>;
  readonly feeds: Record<string, number[]>;
  readonly count: number;
}

/** `count` parameters of the drawn shapes, each with its AdamW update; the norm is drawn too: small
 *  (no clipping), large (clipped) or not finite (the step must change nothing). */
function adamwCase(shapes: readonly number[][], seed: number, norm: number, clipNorm: number): Case {
  const r = prng(seed);
  const b = new GraphBuilder();
  const scalars = ["norm", "step", "eps", "decay"].map((n) => b.input(n, "f32", []));
  const updates: Record<string, string> = {};
  const feeds: Record<string, number[]> = {
    norm: [norm],
    step: [1e-3 + r() * 0.1],
    eps: [1e-8 + r() * 1e-3],
    decay: [r() * 0.01],
  };
  shapes.forEach((shape, k) => {
    const n = prod(shape);
    const [p, m, v] = ["p", "m", "v"].map((s) => b.param(`${s}${k}`, "f32", shape));
    const g = b.input(`g${k}`, "f32", shape);
    feeds[`p${k}`] = Array.from({ length: n }, () => r() * 4 - 2);
    feeds[`m${k}`] = Array.from({ length: n }, () => (r() - 0.5) * 0.2);
    feeds[`v${k}`] = Array.from({ length: n }, () => r() * r() * 0.05); // second moments are ≥ 0
    feeds[`g${k}`] = Array.from({ length: n }, () => (r() - 0.5) * 3);
    const stacked = b.add("adamw", [p, m, v, g, ...scalars], {
      adamw: { beta1: 0.9, beta2: 0.95, clipNorm, decays: r() < 0.5 },
    });
    ([0, 1, 2] as const).forEach((s) => {
      b.output(`new:${["p", "m", "v"][s]}${k}`, adamwState(b, stacked, s));
      updates[`new:${["p", "m", "v"][s]}${k}`] = `${["p", "m", "v"][s]}${k}`;
    });
  });
  return { graph: b.build(), updates, feeds, count: shapes.length };
}

/** Runs the case once on the GPU; returns the params as the step left them (read back by name). */
async function runInPlace(
  c: Case,
  storageBuffers?: number,
): Promise<{ params: Record<string, Float64Array>; dispatches: string[] }> {
  const gpu = await testGpu();
  const limits = { ...gpu.limits, ...(storageBuffers ? { maxStorageBuffersPerShaderStage: storageBuffers } : {}) };
  const program = compileGraph(c.graph, limits, { updates: c.updates });
  expect(validateMemoryPlan(program.memory.plan, program.memory.values, program.memory.steps)).toEqual([]);
  const ex = await Executor.create(gpu, program);
  try {
    for (const t of [...program.inputs, ...program.params]) ex.write(t.name, c.feeds[t.name]);
    await ex.run([]);
    const params = await ex.read(program.params.map((t) => t.name));
    return { params, dispatches: program.dispatches.map((d) => program.kernels[d.kernel].name) };
  } finally {
    ex.destroy();
  }
}

const ADAMW_TOL = OPS.adamw.tol;

describe("multi-tensor AdamW", () => {
  test("in place, several parameters per dispatch, equals the float64 reference", async () => {
    const limits = (await testGpu()).limits;
    await fc.assert(
      fc.asyncProperty(
        fc.array(paramShape, { minLength: 1, maxLength: 11 }),
        seedArb,
        fc.constantFrom(0.3, 50, Infinity, NaN),
        fc.constantFrom(1, Infinity),
        fc.constantFrom(undefined, 8),
        async (shapes, seed, norm, clip, storageBuffers) => {
          const c = adamwCase(shapes, seed, norm, clip);
          const ref = runReference(c.graph, c.feeds);
          const { params, dispatches } = await runInPlace(c, storageBuffers);
          const per = Math.floor(((storageBuffers ?? limits.maxStorageBuffersPerShaderStage) - 4) / 4);
          // nothing but the updates: no stacked results, no copies
          expect(dispatches.every((d) => d.startsWith("adamw_"))).toBe(true);
          expect(dispatches).toHaveLength(Math.ceil(shapes.length / per));
          const tol = Number.isFinite(norm) ? ADAMW_TOL : { atol: 0, rtol: 0 }; // a skipped step keeps every bit
          for (let k = 0; k < c.count; k++)
            for (const s of ["p", "m", "v"]) {
              const bad = firstMismatch(params[`${s}${k}`], ref[`new:${s}${k}`].data, tol);
              if (bad) throw new Error(`${s}${k} ${JSON.stringify(shapes[k])}: ${bad}`);
            }
        },
      ),
      { numRuns: runs(30) },
    );
  });

  test("without updates into its params, adamw is lowered to primitives and computes the same values", async () => {
    const c = adamwCase([[3, 5], [1], [], [257]], 7, 0.8, 1);
    const lowered = compileGraph(c.graph, DEFAULT_LIMITS); // no updates: in place would change the params' meaning
    expect(lowered.graph.nodes.some((n) => n.op === "adamw")).toBe(false);
    const ref = runReference(c.graph, c.feeds);
    const got = await runOnGpu(c.graph, c.feeds);
    for (const o of c.graph.outputs) expectClose(got[o.name], ref[o.name].data, ADAMW_TOL, o.name);
  });
});

test("nothing differentiates through the optimizer's ops", () => {
  const b = new GraphBuilder();
  const x = b.param("x", "f32", [3]);
  b.output("loss", b.add("reduce_sum", [b.add("sum_squares", [x])], { axes: [0] }));
  expect(() => grad(b.build(), "loss")).toThrow(/optimizer op .* has no gradient/);
});

describe("sum_squares", () => {
  test("any number of inputs, split by the binding limit, equals the float64 reference", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(paramShape, { minLength: 1, maxLength: 40 }),
        seedArb,
        fc.constantFrom(undefined, 8),
        async (shapes, seed, storageBuffers) => {
          const r = prng(seed);
          const b = new GraphBuilder();
          const xs = shapes.map((s, k) => b.input(`x${k}`, "f32", s));
          b.output("ss", b.add("sum_squares", xs));
          const g = b.build();
          const feeds = Object.fromEntries(
            shapes.map((s, k) => [`x${k}`, Array.from({ length: prod(s) }, () => (r() - 0.5) * 10)]),
          );
          const ref = runReference(g, feeds);
          const got = await runOnGpu(g, feeds, {
            limits: storageBuffers ? { maxStorageBuffersPerShaderStage: storageBuffers } : {},
          });
          expectClose(got.ss, ref.ss.data, OPS.sum_squares.tol, "sum_squares");
        },
      ),
      { numRuns: runs(15) },
    );
  });
});

describe("training step: multi-tensor against per-parameter", () => {
  const model = () => {
    const el = loadModel("models/char_lm.mira", { preset: "tiny" }).elaborate({ B: 2, T: 8 });
    const shapes = new Map(el.params.map((p) => [p.name, p.shape]));
    const step = (form: OptimizerForm) =>
      buildTrainStep(
        el.graph,
        el.objective ?? el.losses[0],
        DEFAULT_ADAMW,
        (n) => decaysByDefault(shapes.get(n) ?? []),
        {},
        form,
      );
    const tokens = Array.from({ length: 16 }, (_, i) => (i * 7 + 3) % 60);
    return { el, step, tokens };
  };

  test("one step on the reference: the same new parameters, moments and gradient norm", () => {
    const { el, step, tokens } = model();
    const feeds: Record<string, ArrayLike<number>> = { tokens };
    for (const [k, v] of Object.entries(stepScalars(DEFAULT_ADAMW, 3, 1e-2))) feeds[k] = [v];
    for (const [name, v] of initParams(el.params, 1)) {
      feeds[name] = v;
      const r = prng(name.length);
      feeds[momentName("m", name)] = Array.from(v, () => (r() - 0.5) * 0.01);
      feeds[momentName("v", name)] = Array.from(v, () => r() * 1e-4);
    }
    const multi = runReference(step("multi-tensor").graph, feeds);
    const per = runReference(step("per-parameter").graph, feeds);
    expect(Object.keys(multi).sort()).toEqual(Object.keys(per).sort());
    // both round to f32 on the reference; the per-parameter form after every op, adamw once
    for (const name of Object.keys(per))
      expectClose(multi[name].data, per[name].data, { atol: 1e-6, rtol: 1e-5 }, name);
  });

  test("four steps on the GPU: losses and parameters agree, and the step writes its params in place", async () => {
    const gpu = await testGpu();
    const { el, step, tokens } = model();
    const run = async (form: OptimizerForm) => {
      const st = step(form);
      const program = compileGraph(st.graph, gpu.limits, { updates: st.updates });
      return { ...(await trainSteps(gpu, program, el.params, { tokens }, 4)), copies: program.updates.length };
    };
    const multi = await run("multi-tensor");
    const per = await run("per-parameter");
    expect(multi.copies).toBe(0);
    expect(per.copies).toBe(3 * el.params.length);
    // f32 both ways, rounded at different points: a few ulps per step, compounded over four steps
    expectClose(multi.losses, per.losses, { atol: 1e-5, rtol: 1e-5 }, "losses");
    // The key projection's bias shifts every score of a query by the same amount, which softmax ignores:
    // its exact gradient is 0, so what each form computes is rounding noise in a different order, and
    // Adam scales noise up to steps of size lr. Every other parameter is compared.
    const noiseOnly = (name: string) => name.endsWith("attn.wk.b");
    expect(el.params.filter((p) => noiseOnly(p.name)).length).toBeLessThan(el.params.length / 4);
    for (const p of el.params.filter((q) => !noiseOnly(q.name)))
      expectClose(multi.params[p.name], per.params[p.name], { atol: 1e-5, rtol: 1e-4 }, p.name);
  });
});
