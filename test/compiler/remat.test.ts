// remat.test.ts: activation rematerialisation (compiler/remat.ts). Gradients with regions recomputed equal
// the gradients without, bit for bit on the reference, for every op's gradient case under random regions
// and for attention by the flash kernels; they still match finite differences; a model's blocks are its
// outermost repeat iterations and scan steps; a training step with remat computes the same step on the
// reference, holds fewer bytes at once, and says so in the report.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileFile } from "../../api/compile.js";
import { loadModel } from "../../api/model.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { type GradOptions, grad } from "../../compiler/grad.js";
import type { Graph } from "../../compiler/ir.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { type Elaborated, initParams } from "../../compiler/lower.js";
import { binary, reduce, unary } from "../../compiler/ops/helpers.js";
import { OPS, type OpName } from "../../compiler/ops/index.js";
import { compileGraph } from "../../compiler/program.js";
import { type Feeds, runReference } from "../../compiler/reference.js";
import { type RematRegion, rematRegions } from "../../compiler/remat.js";
import { formatReport } from "../../compiler/report.js";
import { peakAlive } from "../../compiler/report-remat.js";
import { prod } from "../../compiler/shape.js";
import { defaultTrainStep, trainableModel } from "../../compiler/train-model.js";
import { DEFAULT_ADAMW, momentName, stepScalars } from "../../compiler/train-step.js";
import { expectClose } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";
import { trainSteps } from "../helpers/train-steps.js";
import { type Rand, intIn, prng, runs } from "./gen.js";
import {
  Draw,
  GRADIENT_ONLY,
  type GradCase,
  MASK_KINDS,
  NO_FLOAT_INPUT,
  STEP_ONLY,
  attentionCase,
  caseBuilder,
  modelCase,
} from "./grad-cases.js";
import { caseArb, expectMatchesFiniteDifferences } from "./grad-suite.js";

const FLOAT_OPS = (Object.keys(OPS) as OpName[]).filter(
  (op) => !NO_FLOAT_INPUT.includes(op) && !GRADIENT_ONLY.includes(op) && !STEP_ONLY.includes(op),
);

/** Disjoint id ranges cut at random points of `g`, about half of them kept: regions need not be blocks. */
function randomRegions(g: Graph, r: Rand): RematRegion[] {
  const cuts = [...new Set(Array.from({ length: intIn(r, 1, 4) }, () => intIn(r, 0, g.nodes.length)))];
  const ends = [0, ...cuts.sort((a, b) => a - b), g.nodes.length];
  const out: RematRegion[] = [];
  for (let i = 0; i + 1 < ends.length; i++) if (r() < 0.6) out.push({ start: ends[i], end: ends[i + 1] });
  return out.length ? out : [{ start: 0, end: g.nodes.length }];
}

/** The case with loss = Σ y·w (as the finite-difference suite builds it) and its feeds. */
function withLoss(c: GradCase, r: Rand): { graph: Graph; feeds: Record<string, number[]> } {
  const yf = c.y.dtype === "f32" ? c.y : c.b.add("cast", [c.y], { dtype: "f32" });
  const w = c.b.input("w", "f32", c.y.shape);
  const all = c.y.shape.map((_, i) => i);
  c.b.output("loss", reduce(c.b, "reduce_sum", binary(c.b, "mul", yf, w), all));
  return { graph: c.b.build(), feeds: { ...c.feeds, w: Array.from({ length: prod(c.y.shape) }, () => 2 * r() - 1) } };
}

/** Every output of the gradient graph with and without `regions` recomputed, in float64. */
function expectSameGradients(graph: Graph, feeds: Feeds, regions: readonly RematRegion[], opts: GradOptions = {}) {
  const plain = runReference(grad(graph, "loss", opts), feeds, { exact: true });
  const remat = runReference(grad(graph, "loss", { ...opts, remat: regions }), feeds, { exact: true });
  expect(Object.keys(remat).sort()).toEqual(Object.keys(plain).sort());
  for (const name of Object.keys(plain)) expect(remat[name].data, name).toEqual(plain[name].data);
}

describe("blocks", () => {
  test("the outermost repeat iterations and scan steps, in graph order, empty ones left out", () => {
    const span = { file: "m.mira", start: 0, end: 0 };
    const regions = rematRegions({
      repeats: [
        { span, iterations: [{ start: 30, end: 40 }] }, // inside the scan's second step
        {
          span,
          iterations: [
            { start: 50, end: 55 },
            { start: 55, end: 55 },
            { start: 55, end: 60 },
          ],
        },
        { span, iterations: [{ start: 2, end: 8 }] }, // holds the repeat below
        { span, iterations: [{ start: 3, end: 5 }] },
      ],
      scans: [
        {
          span,
          inits: [],
          out: 45,
          steps: [
            { start: 10, end: 20, carries: [], yield: 19 },
            { start: 20, end: 44, carries: [], yield: 43 },
          ],
        },
      ],
    });
    expect(regions).toEqual([
      { start: 2, end: 8 },
      { start: 10, end: 20 },
      { start: 20, end: 44 },
      { start: 50, end: 55 },
      { start: 55, end: 60 },
    ]);
  });

  test("char_lm: one block per layer, reading that layer's parameters and no other's", () => {
    const el = loadModel("models/char_lm.mira", { preset: "tiny", set: ["depth=3"] }).elaborate({ B: 1, T: 4 });
    const regions = rematRegions(el);
    expect(regions).toHaveLength(3);
    regions.forEach((r, i) => {
      const params = new Set<string>();
      for (const n of el.graph.nodes.slice(r.start, r.end))
        for (const x of n.inputs) if (el.graph.nodes[x].op === "param") params.add(el.graph.nodes[x].attrs.name!);
      expect(params.size).toBeGreaterThan(0);
      for (const p of params) expect(p.startsWith(`layers.${i}.`), p).toBe(true);
    });
  });

  test("Mirasol with the TTM combiner: each chunk's scan step is one block, its repeats inside it", () => {
    const el = ttmMirasol().elaborate({ B: 1, L: 3 });
    const steps = el.scans.flatMap((s) => s.steps);
    expect(steps).toHaveLength(2);
    const regions = rematRegions(el);
    for (const s of steps) expect(regions).toContainEqual({ start: s.start, end: s.end });
    const inside = el.repeats
      .flatMap((r) => r.iterations)
      .filter((it) => steps.some((s) => s.start <= it.start && it.end <= s.end));
    expect(inside.length).toBeGreaterThan(0);
    for (const it of inside) expect(regions).not.toContainEqual({ start: it.start, end: it.end });
  });
});

describe("gradients with recomputed regions", () => {
  test.each(FLOAT_OPS)("%s: the same gradients, bit for bit, whatever the regions", (op) => {
    const build = caseBuilder(op)!;
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        const r = d.rand();
        const { graph, feeds } = withLoss(build(d), r);
        expectSameGradients(graph, feeds, randomRegions(graph, r));
      }),
      { numRuns: runs(8) },
    );
  });

  test.each(MASK_KINDS)("attention by the flash kernels, mask %s: the same gradients", (kind) => {
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        const r = d.rand();
        const { graph, feeds } = withLoss(attentionCase(kind)(d), r);
        expectSameGradients(graph, feeds, [{ start: 0, end: graph.nodes.length }], { attention: "flash" });
      }),
      { numRuns: runs(10) },
    );
  });

  test("a value a recomputed attention reads three times and later nodes read too: terms add up as without", () => {
    // Through attention's lowering, x's gradient gathers three terms on the recomputed attention's view
    // of x; exp(x), later in the graph, gave x its first term already. Summed in another order, the
    // float64 results differ in their last bits.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const r = prng(seed);
        const b = new GraphBuilder();
        const x = b.param("x", "f32", [1, 2, 5, 3]);
        const y = b.add("attention", [x, x, x], { mask: { kind: "causal" } });
        const z = binary(b, "add", y, unary(b, "exp", x));
        const w = b.input("w", "f32", z.shape);
        b.output("loss", reduce(b, "reduce_sum", binary(b, "mul", z, w), [0, 1, 2, 3]));
        const graph = b.build();
        const feeds = { x: Array.from({ length: 30 }, () => 2 * r() - 1), w: Array.from({ length: 30 }, r) };
        expectSameGradients(graph, feeds, [{ start: 0, end: y.id + 1 }]);
      }),
      { numRuns: runs(10) },
    );
  });

  test("a small model (embedding, layer norm, attention, MLP, loss): finite differences still agree", () => {
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        const [r, cut] = [d.rand(), d.rand()];
        expectMatchesFiniteDifferences(modelCase(d), r, (graph) => ({ remat: randomRegions(graph, cut) }));
      }),
      { numRuns: runs(20) },
    );
  });
});

function ttmMirasol() {
  return loadModel("models/mirasol.mira", {
    preset: "tiny",
    set: ["combiner=TTMCombiner(memory: 2, read: 2, depth: 2, heads: 2)"],
  });
}

/** A training step's feeds: inputs from a PRNG, parameters from the initialisers, moments nonzero. */
function stepFeeds(el: Elaborated, seed: number): Record<string, ArrayLike<number>> {
  const r = prng(seed);
  const feeds: Record<string, ArrayLike<number>> = {};
  for (const x of el.inputs) {
    const n = prod(x.shape);
    feeds[x.name] = x.dtype === "i32" ? Array.from({ length: n }, () => intIn(r, 0, 20)) : Array.from({ length: n }, r);
  }
  for (const [k, v] of Object.entries(stepScalars(DEFAULT_ADAMW, 3, 1e-2))) feeds[k] = [v];
  for (const [name, v] of initParams(el.params, seed)) {
    feeds[name] = v;
    feeds[momentName("m", name)] = Array.from(v, () => (r() - 0.5) * 0.01);
    feeds[momentName("v", name)] = Array.from(v, () => r() * 1e-4);
  }
  return feeds;
}

describe("training step", () => {
  const cases: [string, () => Elaborated][] = [
    ["char_lm", () => loadModel("models/char_lm.mira", { preset: "tiny", set: ["depth=2"] }).elaborate({ B: 2, T: 6 })],
    ["Mirasol, TTM combiner", () => ttmMirasol().elaborate({ B: 1, L: 3 })],
  ];
  test.each(cases)("%s: loss, gradient norm, parameters and moments the same, bit for bit", (_, elaborate) => {
    const el = elaborate();
    const loss = el.objective ?? el.losses[0];
    const plain = defaultTrainStep(trainableModel(el, loss, false), DEFAULT_ADAMW);
    const remat = defaultTrainStep(trainableModel(el, loss, true), DEFAULT_ADAMW);
    expect(remat.graph.nodes.length).toBeGreaterThan(plain.graph.nodes.length); // it did recompute
    const feeds = stepFeeds(el, 5);
    const a = runReference(plain.graph, feeds);
    const b = runReference(remat.graph, feeds);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const name of Object.keys(a)) expect(b[name].data, name).toEqual(a[name].data);
  });

  test("the model's config key switches it, and the caller's choice wins", () => {
    const load = (set: string[]) => loadModel("models/char_lm.mira", { preset: "tiny", set }).elaborate({ B: 1, T: 4 });
    expect(trainableModel(load([]), "lm").remat).toBeUndefined();
    expect(trainableModel(load(["remat=true"]), "lm").remat).toHaveLength(1);
    expect(trainableModel(load(["remat=true"]), "lm", false).remat).toBeUndefined();
    expect(trainableModel(load([]), "lm", true).remat).toHaveLength(1);
  });

  test("char_lm small: at most 80 % of the bytes alive at once", () => {
    const el = loadModel("models/char_lm.mira", { preset: "small" }).elaborate({ B: 4, T: 64 });
    const alive = (on: boolean) => {
      const st = defaultTrainStep(trainableModel(el, "lm", on), DEFAULT_ADAMW);
      return peakAlive(compileGraph(st.graph, DEFAULT_LIMITS, { updates: st.updates, parallel: false }));
    };
    // The buffers are not asserted: the memory plan's best fit packs these values into about as many
    // bytes either way (docs/models.md, rematerialisation).
    expect(alive(true)).toBeLessThanOrEqual(0.8 * alive(false));
  });

  test("the report: what remat saves where it is on, what it could recompute where it is off", async () => {
    const compile = (set: string[]) =>
      compileFile("models/char_lm.mira", {
        preset: "tiny",
        set,
        batch: { B: 2, T: 32 },
        step: "train",
        limits: DEFAULT_LIMITS,
      });
    const on = (await compile(["remat=true", "depth=2"])).report();
    expect(on.remat?.on).toBe(true);
    expect(on.remat?.blocks).toBe(2);
    expect(on.remat!.with!.alive).toBeLessThan(on.remat!.without!.alive);
    expect(on.remat!.with!.buffers.total).toBe(on.memory.total);
    expect(formatReport(on, "t")).toMatch(
      /remat {8}on: 2 blocks recomputed .*\n.*buffers .* → .*\n.*values alive at once/,
    );
    const off = (await compile(["depth=2"])).report();
    expect(off.remat).toEqual({ blocks: 2, on: false });
    expect(formatReport(off, "t")).toContain("remat        off: 2 blocks could be recomputed");
    const forward = await compileFile("models/char_lm.mira", {
      preset: "tiny",
      batch: { B: 2, T: 32 },
      limits: DEFAULT_LIMITS,
    });
    expect(forward.report().remat).toBeUndefined();
  });
});

describe("training step on the GPU", () => {
  test("char_lm: three steps with remat give the losses and parameters of three without", async () => {
    const gpu = await testGpu();
    const el = loadModel("models/char_lm.mira", { preset: "tiny", set: ["depth=2"] }).elaborate({ B: 2, T: 8 });
    const tokens = Array.from({ length: 16 }, (_, i) => (i * 7 + 3) % 60);
    const run = async (on: boolean) => {
      const st = defaultTrainStep(trainableModel(el, "lm", on), DEFAULT_ADAMW);
      const program = compileGraph(st.graph, gpu.limits, { updates: st.updates });
      return { ...(await trainSteps(gpu, program, el.params, { tokens }, 3)), dispatches: program.dispatches.length };
    };
    const plain = await run(false);
    const remat = await run(true);
    expect(remat.dispatches).toBeGreaterThan(plain.dispatches); // the recomputation runs
    // the first loss is the forward pass's, computed by the same kernels either way
    expect(remat.losses[0]).toBe(plain.losses[0]);
    // later ones and the parameters: f32 kernels fused differently round differently, a few ulps per step
    expectClose(remat.losses, plain.losses, { atol: 1e-5, rtol: 1e-5 }, "losses");
    // The key projection's bias shifts every score of a query alike, which softmax ignores: its exact
    // gradient is 0 and what either step computes is rounding noise, which Adam scales up to steps of lr.
    for (const p of el.params.filter((q) => !q.name.endsWith("attn.wk.b")))
      expectClose(remat.params[p.name], plain.params[p.name], { atol: 1e-5, rtol: 1e-4 }, p.name);
  });
});
