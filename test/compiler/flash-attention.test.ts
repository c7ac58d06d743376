// flash-attention.test.ts: the flash-attention ops (compiler/ops/attention.ts, kernels in
// compiler/wgsl/attention.ts) and the choice between them and attention's lowering
// (compiler/passes/choose-attention.ts): the masks' prefix form against attentionMaskAllows; every op on
// the GPU against its float64 reference for every mask kind on random shapes, in the kernel layouts of
// a CPU adapter and of a GPU; flash and lowered paths agreeing on outputs and gradients; gradients
// through flash attention against central finite differences; the choice rule and where it is fixed;
// and memory that grows linearly in T with flash and quadratically lowered (compile only).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { DType } from "../../compiler/dtype.js";
import { grad, gradName } from "../../compiler/grad.js";
import { type Graph, IrError, type MaskSpec, type Node, printGraph } from "../../compiler/ir.js";
import { DEFAULT_LIMITS, type DeviceLimits } from "../../compiler/limits.js";
import { keyEnd } from "../../compiler/ops/attention.js";
import { attentionMaskAllows } from "../../compiler/ops/composite.js";
import { binary, reduce } from "../../compiler/ops/helpers.js";
import { FLASH_MIN_SCORE_BYTES, chooseAttention } from "../../compiler/passes/choose-attention.js";
import { type CompileOptions, compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { DEFAULT_ADAMW, buildTrainStep } from "../../compiler/train-step.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu, runOnGpuMany, testGpu } from "../helpers/gpu.js";
import { type Rand, intIn, prng, runs, seedArb, tolFor, valuesOf } from "./gen.js";

const MASKS = ["none", "causal", "block_causal", "padding", "cross"] as const;
type MaskKind = (typeof MASKS)[number];
const maskOf = (kind: MaskKind, block: number): MaskSpec => (kind === "block_causal" ? { kind, block } : { kind });

test("keyEnd is the prefix form of attentionMaskAllows (every mask, Tq ≠ Tk, padding lengths 0…Tk+1)", () => {
  for (const kind of MASKS)
    for (const block of kind === "block_causal" ? [1, 2, 3, 5] : [1])
      for (let tq = 1; tq <= 9; tq++)
        for (let tk = 1; tk <= 9; tk++)
          for (let limit = 0; limit <= (kind === "padding" ? tk + 1 : 0); limit++) {
            const mask = maskOf(kind, block);
            const lim = kind === "padding" ? limit : tk;
            for (let i = 0; i < tq; i++) {
              const end = keyEnd(mask, i, tq, tk, lim);
              for (let j = 0; j < tk; j++)
                expect(j < end, `${kind}/${block} tq ${tq} tk ${tk} limit ${lim} i ${i} j ${j}`).toBe(
                  attentionMaskAllows(mask, i, j, tq, tk) && j < lim,
                );
            }
          }
});

interface Case {
  readonly lead: number[];
  readonly tq: number;
  readonly tk: number;
  readonly d: number;
  readonly dv: number;
  readonly mask: MaskSpec;
  readonly scale?: number;
}

/** Sizes a case draws from. Every shape compiles new kernels (seconds each on lavapipe), so the tests
 *  that compile whole gradient graphs, flash and lowered, draw from the small pool: lengths 1, 2, 3 and 13
 *  (a prime past a CPU workgroup's 8 rows); widths below one vec4, multiples of 4 and primes that are not
 *  (11 rather than 13: a width equal to Tk would exempt a case from the check of score-shaped nodes). */
interface Pool {
  readonly tq: readonly number[];
  readonly tk: readonly number[];
  readonly d: readonly number[];
  readonly dv: readonly number[];
}

/** Shapes from the brief: lengths 1 and primes, Tq ≠ Tk (always for cross), D 1…64, up to 4 heads. */
const FULL: Pool = { tq: [1, 2, 7, 13, 31], tk: [1, 3, 7, 13, 31], d: [1, 3, 8, 16, 33, 64], dv: [1, 4, 7, 32] };
/** FULL with D ≤ 16, for the layouts forced to several rows per invocation (see LAYOUTS) */
const NARROW: Pool = { ...FULL, d: [1, 3, 8, 16] };
const SMALL: Pool = { tq: [1, 2, 13], tk: [1, 3, 13], d: [1, 3, 8, 11], dv: [1, 4, 7] };
const LEADS = [[1], [2], [3], [1, 1], [1, 2], [1, 4], [2, 1], [2, 2], [2, 4]];

/**
 * The shapes a run takes: case k of a pool takes each axis's value (k + 1)·pace mod its length, each axis
 * at its own pace (1, 2, 5 or 7: prime to every length here, 3 to 9), so that n consecutive cases take
 * min(n, length) values of every axis (the test below checks the cover). Shapes are fixed so that a
 * machine that ran the suite once compiles no kernel again (every shape is new kernels, seconds each on
 * llvmpipe); fast-check draws the values. A soak run (MIRA_FC_SCALE > 1) also draws shapes at random.
 */
function fixedCase(kind: MaskKind, pool: Pool, k: number, block = 1 + (k % 5)): Case {
  const at = <T>(xs: readonly T[], pace: number): T => xs[(k * pace + pace) % xs.length];
  const tq = at(pool.tq, 1);
  const tk = at(pool.tk, 2);
  const scale = [undefined, 0.5, 0.125][k % 3];
  const c = {
    lead: at(LEADS, 1),
    tq,
    tk: kind === "cross" && tk === tq ? tk + 2 : tk,
    d: at(pool.d, 5),
    dv: at(pool.dv, 7),
  };
  return { ...c, mask: maskOf(kind, block), ...(scale === undefined ? {} : { scale }) };
}

const SOAK = Number(process.env.MIRA_FC_SCALE ?? 1) > 1;

/** `check` on each fixed case with drawn values, then (soak runs only) on `drawn` shapes. */
async function eachCase(
  fixed: readonly Case[],
  drawn: fc.Arbitrary<Case>,
  soakRuns: number,
  check: (c: Case, seed: number) => Promise<void>,
): Promise<void> {
  for (const c of fixed) {
    const named = (seed: number) =>
      check(c, seed).catch((e: Error) => {
        throw new Error(`case ${JSON.stringify(c)}: ${e.message}`);
      });
    await fc.assert(fc.asyncProperty(seedArb, named), { numRuns: runs(1) });
  }
  if (SOAK) await fc.assert(fc.asyncProperty(drawn, seedArb, check), { numRuns: runs(soakRuns) });
}

const caseArb = (kind: MaskKind, pool: Pool = FULL): fc.Arbitrary<Case> =>
  fc
    .record({
      lead: fc.oneof(fc.tuple(fc.constantFrom(1, 2, 3)), fc.tuple(fc.constantFrom(1, 2), fc.constantFrom(1, 2, 4))),
      tq: fc.constantFrom(...pool.tq),
      tk: fc.constantFrom(...pool.tk),
      d: fc.constantFrom(...pool.d),
      dv: fc.constantFrom(...pool.dv),
      block: fc.integer({ min: 1, max: 5 }),
      scale: fc.option(fc.constantFrom(0.5, 0.125), { nil: undefined }),
    })
    .map(({ block, lead, ...c }) => ({
      ...c,
      lead: [...lead],
      tk: kind === "cross" && c.tk === c.tq ? c.tk + 2 : c.tk,
      mask: maskOf(kind, block),
    }));

/** q, k, v (+ lengths) as inputs of `b`, with their feeds; lengths run from 0 (fully masked) to Tk. */
function attentionInputs(
  b: GraphBuilder,
  c: Case,
  r: Rand,
  dtype: DType,
  asParams = false,
): { ins: Node[]; feeds: Record<string, number[]> } {
  const src = (name: string, shape: number[]) => (asParams ? b.param(name, dtype, shape) : b.input(name, dtype, shape));
  const ins = [src("q", [...c.lead, c.tq, c.d]), src("k", [...c.lead, c.tk, c.d]), src("v", [...c.lead, c.tk, c.dv])];
  const feeds: Record<string, number[]> = Object.fromEntries(
    ins.map((n) => [n.attrs.name!, valuesOf(r, dtype, prod(n.shape), "unit")]),
  );
  if (c.mask.kind === "padding") {
    ins.push(b.input("len", "i32", [c.lead[0]]));
    feeds.len = Array.from({ length: c.lead[0] }, () => intIn(r, 0, c.tk));
  }
  return { ins, feeds };
}

const attrsOf = (c: Case) => (c.scale === undefined ? { mask: c.mask } : { mask: c.mask, scale: c.scale });

/** All four ops in one graph: o, lse, and dQ, dK|dV from a random dO and delta and the computed lse. */
function allOps(c: Case, r: Rand, dtype: DType): { graph: Graph; feeds: Record<string, number[]> } {
  const b = new GraphBuilder();
  const { ins, feeds } = attentionInputs(b, c, r, dtype);
  const [q, k, v, ...len] = ins;
  const rows = [...c.lead, c.tq];
  const dO = b.input("dO", dtype, [...rows, c.dv]);
  const delta = b.input("delta", "f32", rows);
  feeds.dO = valuesOf(r, dtype, prod(dO.shape), "unit");
  feeds.delta = valuesOf(r, "f32", prod(rows), "unit");
  const a = attrsOf(c);
  const lse = b.add("attention_lse", [q, k, ...len], a);
  b.output("o", b.add("flash_attention", ins, a));
  b.output("lse", lse);
  b.output("dq", b.add("attention_dq", [q, k, v, dO, lse, delta, ...len], a));
  b.output("dkv", b.add("attention_dkv", [q, k, v, dO, lse, delta, ...len], a));
  return { graph: b.build(), feeds };
}

/** Runs `graph` on the GPU (with `opts`) and compares every output with the reference at its op's tolerance. */
async function expectMatchesReference(
  graph: Graph,
  feeds: Record<string, number[]>,
  opts: CompileOptions & { limits?: Partial<DeviceLimits> } = {},
): Promise<void> {
  const got = await runOnGpu(graph, feeds, opts);
  const ref = runReference(graph, feeds);
  for (const o of graph.outputs) {
    const node = graph.nodes[o.id];
    const bad = firstMismatch(got[o.name], ref[o.name].data, tolFor(node.op, node.dtype));
    if (bad)
      throw new Error(`${o.name} (${node.op} ${node.dtype}[${node.shape.join(", ")}]): ${bad}\n${printGraph(graph)}`);
  }
}

/** Kernel layouts: a CPU adapter's with the rows per invocation chosen by size (1 at these sizes) or
 *  forced to 2 and 4 (with D ≤ 16: llvmpipe compiles those kernels in seconds, and the row blocking is
 *  independent of the width, covered by the first), and a GPU's. */
const LAYOUTS = [
  { name: "CPU layout", opts: {}, runs: 2 },
  { name: "CPU layout, 2 rows per invocation", opts: { attentionRows: 2 }, runs: 1, narrow: true },
  { name: "CPU layout, 4 rows per invocation", opts: { attentionRows: 4 }, runs: 1, narrow: true },
  { name: "GPU layout", opts: { limits: { adapterKind: "gpu" } }, runs: 1 },
] as const;

/** A layout's fixed cases for one mask: consecutive in its own pool's order, the masks one after another. */
const layoutCases = (layout: (typeof LAYOUTS)[number], kind: MaskKind): Case[] => {
  const li = LAYOUTS.indexOf(layout);
  const pool = "narrow" in layout ? NARROW : FULL;
  // block_causal's five cases (two in the first layout) take the blocks 1 … 5
  return Array.from({ length: layout.runs }, (_, r) =>
    fixedCase(kind, pool, 3 * li + MASKS.indexOf(kind) * layout.runs + r, 1 + ((li + 4 * r) % 5)),
  );
};

// Each case JIT-compiles four new kernels on llvmpipe (a second or more each), so runs are few. The
// tolerances are the ops' own (ops/attention.ts): o 2e-5 + 1e-4·|ref| as attention's; lse 2e-5 + 1e-5·|ref|;
// dQ, dK, dV 5e-5 + 1e-4·|ref| (sums of Tk products with a cancelling dO·v − delta); f16 results 2e-3.
describe("flash-attention ops match their float64 references on the GPU", () => {
  test.each(LAYOUTS.flatMap((l) => MASKS.map((m) => [l.name, m, l] as const)))(
    "%s, mask %s",
    async (_name, kind, layout) => {
      const pool = "narrow" in layout ? NARROW : FULL;
      await eachCase(layoutCases(layout, kind), caseArb(kind, pool), layout.runs, async (c, seed) => {
        const { graph, feeds } = allOps(c, prng(seed), "f32");
        await expectMatchesReference(graph, feeds, layout.opts);
      });
    },
  );

  test("the fixed shapes: each layout as many values per axis as it can take, all of FULL between them", () => {
    type Axis = "tq" | "tk" | "d" | "dv";
    const distinct = (cases: readonly Case[], axis: Axis) => new Set(cases.map((c) => c[axis]));
    // cross adds 2 to a Tk equal to Tq, so Tk is counted without cross
    const of = (cases: readonly Case[], axis: Axis) =>
      axis === "tk" ? cases.filter((c) => c.mask.kind !== "cross") : cases;
    const all: Case[] = [];
    for (const layout of LAYOUTS) {
      const cases = MASKS.flatMap((m) => layoutCases(layout, m));
      all.push(...cases);
      const pool = "narrow" in layout ? NARROW : FULL;
      for (const axis of ["tq", "tk", "d", "dv"] as const) {
        const own = of(cases, axis);
        expect(distinct(own, axis).size, `${layout.name}, ${axis}`).toBe(Math.min(pool[axis].length, own.length));
        for (const x of distinct(own, axis)) expect(pool[axis], `${layout.name}, ${axis}`).toContain(x);
      }
      expect(new Set(cases.map((c) => JSON.stringify(c.lead))).size, layout.name).toBe(
        Math.min(LEADS.length, cases.length),
      );
    }
    for (const axis of ["tq", "tk", "d", "dv"] as const)
      expect(
        [...distinct(of(all, axis), axis)].sort((a, b) => a - b),
        axis,
      ).toEqual(FULL[axis]);
    const blocks = LAYOUTS.flatMap((l) => layoutCases(l, "block_causal")).map((c) => c.mask);
    expect(new Set(blocks.map((m) => (m.kind === "block_causal" ? m.block : 0)))).toEqual(new Set([1, 2, 3, 4, 5]));
    const small = [0, 1].flatMap((o) => MASKS.map((m, i) => fixedCase(m, SMALL, i + o)));
    for (const axis of ["tq", "d", "dv"] as const)
      expect(
        [...distinct(small, axis)].sort((a, b) => a - b),
        axis,
      ).toEqual(SMALL[axis]);
  });

  test("f16 inputs compute in f32 and round their results once (mask causal)", async () => {
    expect((await testGpu()).limits.shaderF16, "this adapter lacks shader-f16").toBe(true);
    const c: Case = { lead: [2, 2], tq: 13, tk: 13, d: 16, dv: 8, mask: { kind: "causal" } };
    const { graph, feeds } = allOps(c, prng(7), "f16");
    await expectMatchesReference(graph, feeds);
  });
});

/** loss = Σ attention(q, k, v)·w with q, k, v params, for gradients. */
function lossGraph(c: Case, r: Rand): { graph: Graph; feeds: Record<string, number[]> } {
  const b = new GraphBuilder();
  const { ins, feeds } = attentionInputs(b, c, r, "f32", true);
  const o = b.add("attention", ins, attrsOf(c));
  const w = b.input("w", "f32", o.shape);
  feeds.w = valuesOf(r, "f32", prod(o.shape), "unit");
  b.output("o", o);
  b.output(
    "loss",
    reduce(
      b,
      "reduce_sum",
      binary(b, "mul", o, w),
      o.shape.map((_, i) => i),
    ),
  );
  return { graph: b.build(), feeds };
}

/** `sets` draws of one case's values; the graphs the draws build must be one graph (only values differ). */
function valueSets(build: (r: Rand) => { graph: Graph; feeds: Record<string, number[]> }, seed: number, sets: number) {
  const drawn = Array.from({ length: sets }, (_, k) => build(prng(seed + k)));
  for (const d of drawn) expect(printGraph(d.graph)).toBe(printGraph(drawn[0].graph));
  return { graph: drawn[0].graph, feeds: drawn.map((d) => d.feeds) };
}

// Nodes shaped [..., tq, tk] — unless another width equals tk (q's d, v's dv, or attention_dkv's dK and
// dV side by side, d + dv), when a shape alone cannot tell a score tensor apart.
const scoreShaped = (g: Graph, c: Case) =>
  g.nodes.filter(
    (n) =>
      n.shape.length >= 2 &&
      n.shape.at(-2) === c.tq &&
      n.shape.at(-1) === c.tk &&
      c.tk > 1 &&
      ![c.d, c.dv, c.d + c.dv].includes(c.tk),
  );

describe("flash and lowered attention agree", () => {
  // Both in f32 against each other: within 1e-5·(1 + max|x|) + 1e-4·|x| per element, the bound
  // grad.test.ts uses for GPU gradients against the reference (summation order, exp).
  test.each(MASKS)(
    "mask %s: outputs and gradients",
    async (kind) => {
      const fixed = [fixedCase(kind, SMALL, MASKS.indexOf(kind))];
      await eachCase(fixed, caseArb(kind, SMALL), 1, async (c, seed) => {
        // One shape on 2 value sets: each path is compiled once and run twice (lavapipe runs the larger
        // shapes' backward slowly too: with 3 sets, mask block_causal took 103 s beside other work).
        const { graph, feeds } = valueSets((r) => lossGraph(c, r), seed, 2);
        const results: Record<string, Float64Array>[][] = [];
        for (const attention of ["flash", "lowered"] as const) {
          const gg = grad(graph, "loss", { attention });
          const lowered = compileGraph(gg, DEFAULT_LIMITS, { attention }).graph;
          const ops = new Set(lowered.nodes.map((n) => n.op));
          expect(
            ops.has("flash_attention") && ops.has("attention_dq") && ops.has("attention_dkv"),
            `${attention}: ${[...ops].join(" ")}`,
          ).toBe(attention === "flash");
          if (attention === "flash")
            expect(
              scoreShaped(lowered, c).map((n) => n.op),
              "nodes of the scores' shape",
            ).toEqual([]);
          results.push(await runOnGpuMany(gg, feeds, { attention }));
        }
        feeds.forEach((_, k) => {
          for (const name of ["o", "loss", gradName("q"), gradName("k"), gradName("v")]) {
            const [flash, lowered] = results.map((x) => x[k][name]);
            const scale = lowered.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
            const bad = firstMismatch(flash, lowered, { atol: 1e-5 * (1 + scale), rtol: 1e-4 });
            if (bad) throw new Error(`${name}, value set ${k + 1}: flash vs lowered: ${bad}\n${printGraph(graph)}`);
          }
        });
      });
    },
    240_000,
  );
});

/** A small model around flash attention: q from x [B, Tq, dm], k and v from m [B, Tk, dm] (the same
 *  sequence when Tq = Tk and the mask is not cross), then loss = Σ attention·w. */
function projectedGraph(
  c: Case,
  dm: number,
  r: Rand,
): { graph: Graph; feeds: Record<string, number[]>; params: string[] } {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [c.lead[0], c.tq, dm]);
  const feeds: Record<string, number[]> = { x: valuesOf(r, "f32", prod(x.shape), "unit") };
  let mem = x;
  if (c.tk !== c.tq || c.mask.kind === "cross") {
    mem = b.input("m", "f32", [c.lead[0], c.tk, dm]);
    feeds.m = valuesOf(r, "f32", prod(mem.shape), "unit");
  }
  const proj = (name: string, width: number, from: Node) => {
    const w = b.param(name, "f32", [dm, width]);
    feeds[name] = valuesOf(r, "f32", dm * width, "unit");
    return b.add("matmul", [from, w]);
  };
  const ins = [proj("wq", c.d, x), proj("wk", c.d, mem), proj("wv", c.dv, mem)];
  if (c.mask.kind === "padding") {
    ins.push(b.input("len", "i32", [c.lead[0]]));
    feeds.len = Array.from({ length: c.lead[0] }, () => intIn(r, 0, c.tk));
  }
  const o = b.add("attention", ins, attrsOf(c));
  const w = b.input("w", "f32", o.shape);
  feeds.w = valuesOf(r, "f32", prod(o.shape), "unit");
  b.output(
    "loss",
    reduce(
      b,
      "reduce_sum",
      binary(b, "mul", o, w),
      o.shape.map((_, i) => i),
    ),
  );
  return { graph: b.build(), feeds, params: ["wq", "wk", "wv"] };
}

describe("gradients through flash attention match central finite differences", () => {
  // Directional derivative along a random direction: analytic from the flash gradient graph, numeric
  // from (4·D(h/2) − D(h))/3 with D(t) = (L(p + t·d) − L(p − t·d))/2t, in float64 on the reference
  // (exact: the error is rounding, ≈ ε·Σ|terms|/h ≲ 1e-9 here). On the reference the two agree within
  // 1e-7·(1 + mass); the GPU's f32 gradient within 1e-4·(1 + mass), where mass = Σ|∂L/∂p·d|.
  test.each(MASKS)("mask %s (q, k, v projected from one or two sequences)", async (kind) => {
    const fixed = [fixedCase(kind, SMALL, MASKS.indexOf(kind) + 1)];
    await eachCase(fixed, caseArb(kind, SMALL), 1, async (c0, seed) => {
      const c = { ...c0, lead: [c0.lead[0]] };
      const dm = 2 + 3 * (c0.tq % 2); // 2 or 5: the model width, from the case
      const r = prng(seed);
      const { graph, feeds, params } = projectedGraph(c, dm, r);
      const gg = grad(graph, "loss", { attention: "flash" });
      expect(gg.nodes.some((n) => n.op === "attention_dq")).toBe(true);
      const dir = Object.fromEntries(params.map((p) => [p, feeds[p].map(() => 2 * r() - 1)]));
      const lossAt = (t: number) =>
        runReference(
          graph,
          { ...feeds, ...Object.fromEntries(params.map((p) => [p, feeds[p].map((x, i) => x + t * dir[p][i])])) },
          { exact: true },
        ).loss.data[0];
      const central = (t: number) => (lossAt(t) - lossAt(-t)) / (2 * t);
      const fd = (4 * central(5e-6) - central(1e-5)) / 3;
      const directional = (gs: Record<string, ArrayLike<number>>) => {
        let an = 0;
        let mass = 0;
        for (const p of params)
          Array.from(gs[gradName(p)]).forEach((g, i) => ((an += g * dir[p][i]), (mass += Math.abs(g * dir[p][i]))));
        return { an, mass };
      };
      const ref = runReference(gg, feeds, { exact: true });
      const exact = directional(Object.fromEntries(params.map((p) => [gradName(p), ref[gradName(p)].data])));
      expect(
        Math.abs(exact.an - fd),
        `reference: analytic ${exact.an} vs finite differences ${fd}`,
      ).toBeLessThanOrEqual(1e-7 * (1 + exact.mass));
      const gpu = directional(await runOnGpu(gg, feeds));
      expect(Math.abs(gpu.an - fd), `GPU: analytic ${gpu.an} vs finite differences ${fd}`).toBeLessThanOrEqual(
        1e-4 * (1 + exact.mass),
      );
    });
  });

  test("the backward ops are not differentiated again (no second derivatives of attention)", () => {
    const c: Case = { lead: [1], tq: 3, tk: 3, d: 2, dv: 2, mask: { kind: "none" } };
    const b = new GraphBuilder();
    const { ins } = attentionInputs(b, c, prng(1), "f32", true);
    const [q, k, v] = ins;
    const rows = [1, 3];
    const dO = b.input("dO", "f32", [1, 3, 2]);
    const lse = b.add("attention_lse", [q, k], { mask: c.mask });
    const dq = b.add("attention_dq", [q, k, v, dO, lse, b.input("delta", "f32", rows)], { mask: c.mask });
    b.output("loss", reduce(b, "reduce_sum", dq, [0, 1, 2]));
    expect(() => grad(b.build(), "loss")).toThrow(/second derivatives of attention/);
    expect(() => grad(b.build(), "loss")).toThrow(IrError);
  });
});

describe("which path attention takes", () => {
  const node = (shape: number[]): Node => ({ id: 0, op: "input", inputs: [], attrs: {}, dtype: "f32", shape });
  const qk = (t: number, lead = [8, 4]) => [node([...lead, t, 32]), node([...lead, t, 32])];
  const mask: MaskSpec = { kind: "causal" };

  test(
    "auto: lowered while the f32 scores take at most FLASH_MIN_SCORE_BYTES, " +
      "flash above it or above the binding limit",
    () => {
      const t = Math.sqrt(FLASH_MIN_SCORE_BYTES / 4); // one head whose scores take exactly the threshold
      expect(Number.isInteger(t)).toBe(true);
      expect(chooseAttention(qk(t, [1, 1]), { mask })).toBe("lowered");
      expect(chooseAttention(qk(t + 1, [1, 1]), { mask })).toBe("flash");
      expect(chooseAttention(qk(t, [1, 2]), { mask })).toBe("flash");
      expect(chooseAttention(qk(128), { mask })).toBe("lowered");
      expect(chooseAttention(qk(128), { mask }, { maxBindingBytes: 1024 })).toBe("flash");
    },
  );

  test("a policy forces a path, and a path fixed on the node wins over both", () => {
    expect(chooseAttention(qk(4096), { mask }, { attention: "lowered" })).toBe("lowered");
    expect(chooseAttention(qk(8), { mask }, { attention: "flash" })).toBe("flash");
    expect(chooseAttention(qk(8), { mask, impl: "lowered" }, { attention: "flash" })).toBe("lowered");
  });

  test(
    "grad and the train step fix the path on each attention node; " + "compilation honours it over its own policy",
    () => {
      const c: Case = { lead: [2], tq: 5, tk: 5, d: 4, dv: 4, mask };
      const { graph } = lossGraph(c, prng(3));
      const impls = (g: Graph) => g.nodes.filter((n) => n.op === "attention").map((n) => n.attrs.impl);
      expect(impls(grad(graph, "loss"))).toEqual(["lowered"]);
      expect(impls(grad(graph, "loss", { attention: "flash" }))).toEqual(["flash"]);
      const step = buildTrainStep(graph, "loss", DEFAULT_ADAMW, () => true, { attention: "flash" }).graph;
      expect(impls(step)).toEqual(["flash"]);
      const ops = (g: Graph, attention: "flash" | "lowered") =>
        new Set(compileGraph(g, DEFAULT_LIMITS, { attention }).graph.nodes.map((n) => n.op));
      expect(ops(step, "lowered").has("flash_attention")).toBe(true);
      expect(ops(graph, "flash").has("flash_attention")).toBe(true);
      expect(ops(graph, "lowered").has("flash_attention")).toBe(false);
    },
  );
});

describe("memory of a forward + backward attention graph (compile only)", () => {
  // B 1, 2 heads, D 32, causal; every buffer of the program (params, inputs, outputs, temporaries after
  // reuse) summed. Lowered, the scores [2, T, T] and their gradients dominate: ×4 per doubling of T.
  const bytes = (t: number, attention: "flash" | "lowered"): number => {
    const { graph } = lossGraph({ lead: [1, 2], tq: t, tk: t, d: 32, dv: 32, mask: { kind: "causal" } }, () => 0.5);
    const limits: DeviceLimits = { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 };
    return compileGraph(grad(graph, "loss", { attention }), limits, { attention }).memory.plan.totalBytes;
  };
  const ts = [128, 256, 512, 1024, 2048, 4096];

  test("flash grows linearly in T (each doubling < 2.2×); lowered quadratically (≥ 3.5× from 2048 to 4096)", () => {
    const flash = ts.map((t) => bytes(t, "flash"));
    for (let i = 1; i < ts.length; i++)
      expect(flash[i] / flash[i - 1], `flash ${ts[i - 1]} → ${ts[i]}: ${flash.join(", ")}`).toBeLessThan(2.2);
    const lowered = [2048, 4096].map((t) => bytes(t, "lowered"));
    expect(lowered[1] / lowered[0], `lowered: ${lowered.join(", ")}`).toBeGreaterThanOrEqual(3.5);
    expect(flash.at(-1)! * 20, "flash at T 4096 needs a small fraction of the lowered bytes").toBeLessThan(lowered[1]);
  });
});
