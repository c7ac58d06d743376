// grad-suite.ts: the gradient checks of grad.test.ts — float64 central differences on the reference,
// and the GPU's gradients against the reference's — and their per-op loops as functions of the ops to
// cover, so that a test can run them on ops it adds to the table (toy-op.test.ts).
import fc from "fast-check";
import { expect, test } from "vitest";
import { type GradOptions, grad, gradName } from "../../compiler/grad.js";
import { type Graph, printGraph } from "../../compiler/ir.js";
import { binary, reduce } from "../../compiler/ops/helpers.js";
import { type OpName, opSpec } from "../../compiler/ops/index.js";
import { lowerComposites } from "../../compiler/passes/lower-composites.js";
import { runReference } from "../../compiler/reference.js";
import type { RefTensor } from "../../compiler/ops/spec.js";
import { prod } from "../../compiler/shape.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpuMany } from "../helpers/gpu.js";
import { type Rand, runs } from "./gen.js";
import { Draw, type GradCase, caseBuilder } from "./grad-cases.js";

/** A case's draws; shrinking is capped because a failing case rebuilt from a shrunk draw is often a
 *  new case, and fast-check would otherwise walk a very long shrink path. */
export const caseArb = fc.limitShrink(fc.gen(), 200);

/** The case graph with loss = Σ cast_f32(y)·w over all axes, and its feeds (w included). */
function withLoss(c: GradCase, r: Rand): { graph: Graph; feeds: Record<string, number[]> } {
  const { b, y } = c;
  const yf = y.dtype === "f32" ? y : b.add("cast", [y], { dtype: "f32" });
  const w = b.input("w", "f32", y.shape);
  const loss = reduce(
    b,
    "reduce_sum",
    binary(b, "mul", yf, w),
    y.shape.map((_, i) => i),
  );
  b.output("loss", loss);
  return { graph: b.build(), feeds: { ...c.feeds, w: Array.from({ length: prod(y.shape) }, () => 2 * r() - 1) } };
}

const paramNames = (g: Graph): string[] => g.nodes.filter((n) => n.op === "param").map((n) => n.attrs.name!);

const H = 1e-5;

/**
 * Directional derivative of the loss along a random direction d (one per param, entries in [−1, 1]):
 * `an` from the gradient graph; `fd` from central differences D(t) = (L(p + t·d) − L(p − t·d)) / 2t at
 * t = h and h/2, Richardson-extrapolated to (4·D(h/2) − D(h)) / 3, which cancels D's h² error term
 * (leaving h⁴·L⁽⁵⁾/480), so ill-conditioned spots such as a layer_norm row of nearly equal values do
 * not need special-casing; all in float64 (exact: true).
 * `mass` = Σ|∂L/∂p|·|d|, the size of the terms `an` sums, which may cancel.
 */
export function directional(
  c: GradCase,
  r: Rand,
  opts: (g: Graph) => GradOptions = () => ({}),
): {
  an: number;
  fd: number;
  fdError: number;
  mass: number;
  graph: Graph;
  feeds: Record<string, number[]>;
  dir: Record<string, number[]>;
  grads: Record<string, ArrayLike<number>>;
} {
  const { graph, feeds } = withLoss(c, r);
  const names = paramNames(graph);
  const { an, fd, fdError, mass, dir, grads } = alongRandomDirection(graph, "loss", names, feeds, r, H, opts(graph));
  for (const p of names)
    expect(grads[gradName(p)].shape, `shape of ${gradName(p)}`).toEqual(
      graph.nodes.find((n) => n.attrs.name === p)!.shape,
    );
  const byParam = Object.fromEntries(names.map((p) => [p, grads[gradName(p)].data]));
  return { an, fd, fdError, mass, graph, feeds, dir, grads: byParam };
}

/**
 * The derivative of output `loss` along a random direction `dir` over the params `names`, in float64:
 * `an` = Σ ∂L/∂p·d from grad(), `fd` = central differences at t = h and h/2, Richardson-extrapolated,
 * and `mass` = Σ|∂L/∂p·d|; `grads` is the reference run of the gradient graph (built with `opts`).
 */
export function alongRandomDirection(
  graph: Graph,
  loss: string,
  names: readonly string[],
  feeds: Record<string, number[]>,
  r: () => number,
  h: number,
  opts: GradOptions = {},
): {
  an: number;
  fd: number;
  /** |fd − the same extrapolation from steps twice as long|: an estimate (an overestimate, since that one
   *  errs 16× as much) of fd's truncation error, large only where the loss is ill-conditioned along the
   *  direction (a layer norm over two nearly equal features); a wrong rule is off by O(1) either way */
  fdError: number;
  mass: number;
  dir: Record<string, number[]>;
  grads: Record<string, RefTensor>;
} {
  const dir = Object.fromEntries(names.map((p) => [p, feeds[p].map(() => 2 * r() - 1)]));
  const grads = runReference(grad(graph, loss, opts), feeds, { exact: true });
  let an = 0;
  let mass = 0;
  for (const p of names) {
    const gp = grads[gradName(p)].data;
    dir[p].forEach((v, i) => {
      an += gp[i] * v;
      mass += Math.abs(gp[i] * v);
    });
  }
  const lossAt = (t: number): number => {
    const moved = { ...feeds };
    for (const p of names) moved[p] = feeds[p].map((v, i) => v + t * dir[p][i]);
    return runReference(graph, moved, { exact: true })[loss].data[0];
  };
  const central = (t: number): number => (lossAt(t) - lossAt(-t)) / (2 * t);
  const [half, one] = [central(h / 2), central(h)];
  const fd = (4 * half - one) / 3;
  const coarse = (4 * one - central(2 * h)) / 3;
  return { an, fd, fdError: Math.abs(fd - coarse), mass, dir, grads };
}

/**
 * |fd − an| ≤ 1e-6 + 1e-6·mass + fdError. The extrapolated difference errs by h⁴/480·D⁵L (truncation,
 * ≈ 2e-23·D⁵L: nothing, unless derivatives grow like 1/σ⁵ near a singular spot with σ ≲ 1e-3) plus
 * about 1.5·ε·Σ|loss terms|/h (rounding). Cases keep poles ≥ 0.3 away and kinks ≥ 0.05 away (≫ h·|d|),
 * and have ≲ 10³ loss terms of size ≲ 30, so rounding ≲ 1.5·2.2e-16·3e4/1e-5 ≈ 1e-6 at worst (a
 * random-walk sum makes it far smaller). The relative part is taken of `mass` rather than |an|
 * because a directional derivative may cancel to near 0 while its terms do not. A wrong rule is off
 * by O(1) of some terms, far beyond this.
 */
export function expectMatchesFiniteDifferences(
  c: GradCase,
  r: Rand,
  opts: (g: Graph) => GradOptions = () => ({}),
): void {
  const { an, fd, fdError, mass, graph, feeds, dir } = directional(c, r, opts);
  const where = () => `\n${printGraph(graph)}`;
  if (c.blocked) {
    // An identity that blocks the gradient: the loss moves (fd = Σ w·d, as for the identity), yet
    // the analytic derivative is exactly 0.
    const moved = feeds.w.reduce((acc, w, i) => acc + w * dir.x[i], 0);
    expect(Math.abs(fd - moved), `fd ${fd} vs Σ w·d ${moved}${where()}`).toBeLessThanOrEqual(
      1e-6 + 1e-6 * Math.abs(moved),
    );
    expect(an, `analytic gradient through a blocked op${where()}`).toBe(0);
    return;
  }
  // beside rounding, the difference's own truncation error where the draw is ill-conditioned (fdError)
  const tol = 1e-6 + 1e-6 * mass + fdError;
  if (!(Math.abs(fd - an) <= tol))
    throw new Error(
      `directional derivative: analytic ${an}, central difference ${fd} ± ${fdError} ` +
        `(|diff| ${Math.abs(fd - an)} > ${tol})${where()}`,
    );
}

/**
 * GPU against reference, both in f32: each output within 1e-5·(1 + max|ref|) + 1e-4·|ref| + 4·noise. The
 * reference rounds to f32 after every op as a kernel does, so what remains is summation order in
 * reductions and matmuls (≈ √n·6e-8 of the largest term for n ≤ 10³ terms) and the GPU's transcendental
 * functions (≤ 1e-5 relative, see the op table's tolerances), compounded over a few ops of a backward
 * pass; the absolute part is scaled by the output's largest value, because one gradient element can be
 * a cancelling sum of terms as large as that. On lavapipe the worst error seen was ≈ 1% of this bound
 * for single ops and ≈ 4% for the model; a wrong kernel is off by O(1).
 *
 * `noise` is how far this case's f32 answers stray from float64, measured: the larger distance from
 * the float64 reference (exact: true) of two f32 evaluations that round in different places — the
 * graph as built (composites computed whole) and with composites lowered to the primitives the GPU
 * runs. It is ≈ 1e-7 relative for most cases, so the bound above rules; but some cases are
 * ill-conditioned, and no f32 evaluation order can match another there: in the model case, a
 * layer_norm row over d = 2 of two nearly equal values (−0.5149567, −0.5150765; fast-check seed
 * −829853349) has variance ≪ eps, so the norm is ≈ (x − mean)/√eps and turns the inputs' f32 rounding
 * (≈ 4e-7) into 1e-3 relative error in ln1.g's gradient — in the GPU's result and the reference's alike.
 */
function f32Noise(g: Graph, feeds: Record<string, number[]>, ref: Record<string, RefTensor>): Map<string, number> {
  const exact = runReference(g, feeds, { exact: true });
  const lowered = runReference(lowerComposites(g), feeds);
  const noise = new Map<string, number>();
  for (const o of g.outputs) {
    const e = exact[o.name].data;
    let m = 0;
    for (const f32 of [ref[o.name].data, lowered[o.name].data])
      for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs(f32[i] - e[i]));
    noise.set(o.name, m);
  }
  return noise;
}

/**
 * The GPU's gradients of a case against the reference's, on `valueSets` sets of values: the case's own, then
 * new loss weights with every param entry scaled by a factor in [0.5, 1.5) (signs kept, so the op's domain
 * still holds). The graph is compiled once, so each further set costs a run, not shader compiles.
 */
export async function expectGpuGradientsMatch(c: GradCase, r: Rand, valueSets = 1): Promise<void> {
  const { graph, feeds } = withLoss(c, r);
  const gg = grad(graph, "loss");
  const revalued = (): Record<string, number[]> => {
    const f: Record<string, number[]> = { ...feeds, w: feeds.w.map(() => 2 * r() - 1) };
    for (const p of paramNames(gg)) f[p] = feeds[p].map((v) => v * (0.5 + r()));
    return f;
  };
  const sets = [feeds, ...Array.from({ length: valueSets - 1 }, revalued)];
  const gots = await runOnGpuMany(gg, sets);
  sets.forEach((f, k) => {
    const ref = runReference(gg, f);
    const noise = f32Noise(gg, f, ref);
    for (const o of gg.outputs) {
      const want = ref[o.name].data;
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const f32 = noise.get(o.name)!;
      const bad = firstMismatch(gots[k][o.name], want, { atol: 1e-5 * (1 + scale) + 4 * f32, rtol: 1e-4 });
      const at = k ? ` (value set ${k + 1})` : "";
      if (bad)
        throw new Error(`${o.name}${at}: ${bad} (f32 noise of this case ${f32.toExponential(2)})\n${printGraph(gg)}`);
    }
  });
}

/** Registers, per op, its gradient case builder's cases against central differences. */
export function finiteDifferenceTests(ops: readonly OpName[]): void {
  const numRuns = (op: OpName): number => runs(opSpec(op).kind === "elementwise" ? 60 : 100);
  test.each(ops)("%s", (op) => {
    const build = caseBuilder(op)!;
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        expectMatchesFiniteDifferences(build(d), d.rand());
      }),
      { numRuns: numRuns(op) },
    );
  });
}

/** Registers, per op, its gradient case builder's cases with the GPU's gradients against the reference's. */
export function gpuGradientTests(ops: readonly OpName[]): void {
  // A matmul or composite case compiles many kernels (≈ 1 s each on lavapipe), so it draws one shape and checks
  // it on 4 value sets, which reuse the compiled kernels; an elementwise case is cheap enough for 2 shapes.
  const heavy = (op: OpName): boolean => opSpec(op).kind === "matmul" || opSpec(op).kind === "composite";
  const gpuRuns = (op: OpName): number => runs(heavy(op) ? 1 : 2);
  test.each(ops)("%s", async (op) => {
    const build = caseBuilder(op)!;
    await fc.assert(
      fc.asyncProperty(caseArb, async (g) => {
        const d = new Draw(g, true);
        await expectGpuGradientsMatch(build(d), d.rand(), heavy(op) ? 4 : 1);
      }),
      { numRuns: gpuRuns(op) },
    );
  });
}
