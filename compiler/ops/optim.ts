// optim.ts: the optimizer's ops, so that a training step updates every parameter in a few dispatches
// instead of a few per parameter (compiler/train-step.ts builds them, wgsl/optim.ts compiles them).
// - sum_squares(x₁ … x_k) → f32[k]: Σ x_i² per input, any shapes; the global gradient norm is
//   sqrt(Σ of it). Program.ts binds as many inputs per dispatch as the device allows.
// - adamw(p, m, v, g, norm, step_size, eps_hat, decay) → [3, …p.shape]: the new p, m and v stacked.
//   The step's outputs take them apart (slice + reshape) and the runtime copies them into the params;
//   program.ts recognises that pattern and writes the three params in place instead, several
//   parameters per dispatch (passes/optimizer.ts). Elsewhere the op is lowered to the same formula in
//   elementwise primitives (`adamwPrimitives`, also the per-parameter path of train-step.ts).
// Neither op has a gradient: they end a step.
import { isFloat } from "../dtype.js";
import type { AdamWAttrs, Node } from "../ir.js";
import { describe } from "../ir.js";
import { sameShape } from "../shape.js";
import { binary, broadcastTo, scalar, unary } from "./helpers.js";
import { fail } from "./rules.js";
import type { NodeBuilder, TensorOp } from "./spec.js";

/** Input order of `adamw` after p, m, v, g. */
export const ADAMW_SCALARS = ["norm", "stepSize", "epsHat", "decay"] as const;

export const adamwAttrs = (n: { readonly attrs: { readonly adamw?: AdamWAttrs } }): AdamWAttrs =>
  n.attrs.adamw ?? fail("adamw: missing attribute 'adamw' (beta1, beta2, clipNorm, decays)");

/** min(1, clip / (norm + 1e-6)) as a float64 reference; 1 when clipping is off. */
export const clipScaleOf = (norm: number, clipNorm: number): number =>
  Number.isFinite(clipNorm) ? Math.min(1, clipNorm / (norm + 1e-6)) : 1;

export const OPTIM_OPS = {
  sum_squares: {
    kind: "optimizer",
    arity: "variadic",
    doc: "Σ x² of each input (any shapes), as f32[inputs]: a global norm's parts",
    // f32 accumulation over up to ~10⁵ elements per input, in 256 strided partial sums and a tree
    tol: { atol: 1e-6, rtol: 1e-5 },
    infer: (ins) => {
      if (ins.length === 0) fail("sum_squares needs at least one input");
      for (const t of ins) if (!isFloat(t.dtype)) fail(`sum_squares needs float tensors, got ${describe(t)}`);
      return { dtype: "f32", shape: [ins.length] };
    },
    ref: (ins) => Float64Array.from(ins, (t) => t.data.reduce((s, x) => s + x * x, 0)),
  },
  adamw: {
    kind: "optimizer",
    arity: 8,
    doc:
      "AdamW step of one parameter (p, m, v, g, norm, step size, ε̂, decay) → new p, m, v stacked; " +
      "clipped by the global norm, unchanged when it is not finite",
    // a dozen f32 operations per element against float64; m / (√v + ε̂) amplifies v's rounding
    tol: { atol: 1e-6, rtol: 1e-5 },
    infer: (ins, a) => {
      const [p, m, v, g, ...scalars] = ins;
      adamwAttrs({ attrs: a });
      if (!isFloat(p.dtype)) fail(`adamw: the parameter must be a float tensor, got ${describe(p)}`);
      for (const t of [m, v])
        if (t.dtype !== p.dtype || !sameShape(t.shape, p.shape))
          fail(`adamw: moments ${describe(t)} must match the parameter ${describe(p)}`);
      if (!isFloat(g.dtype) || !sameShape(g.shape, p.shape))
        fail(`adamw: gradient ${describe(g)} must be a float tensor shaped like the parameter ${describe(p)}`);
      scalars.forEach(
        (t, k) =>
          (t.dtype !== "f32" || t.shape.length !== 0) &&
          fail(`adamw: ${ADAMW_SCALARS[k]} must be f32[], got ${describe(t)}`),
      );
      return { dtype: p.dtype, shape: [3, ...p.shape] };
    },
    ref: ([p, m, v, g, norm, stepSize, epsHat, decay], a) => {
      const { beta1, beta2, clipNorm, decays } = adamwAttrs({ attrs: a });
      const n = p.data.length;
      const out = new Float64Array(3 * n);
      const nrm = norm.data[0];
      const ok = Number.isFinite(nrm);
      const scale = clipScaleOf(nrm, clipNorm);
      for (let i = 0; i < n; i++) {
        const gi = g.data[i] * scale;
        const m2 = m.data[i] * beta1 + gi * (1 - beta1);
        const v2 = v.data[i] * beta2 + gi * gi * (1 - beta2);
        const adam = (m2 * stepSize.data[0]) / (Math.sqrt(v2) + epsHat.data[0]);
        const p2 = p.data[i] - adam - (decays ? p.data[i] * decay.data[0] : 0);
        out[i] = ok ? p2 : p.data[i];
        out[n + i] = ok ? m2 : m.data[i];
        out[2 * n + i] = ok ? v2 : v.data[i];
      }
      return out;
    },
  },
} satisfies Record<string, TensorOp>;

/** The clip factor and the finiteness flag of a global norm, as IR (shared by every parameter). */
export function clipScale(b: NodeBuilder, norm: Node, clipNorm: number): { finite: Node; scale: Node } {
  const finite = b.add("is_finite", [norm]);
  const scale = Number.isFinite(clipNorm)
    ? binary(b, "min", scalar(b, 1), binary(b, "div", scalar(b, clipNorm), binary(b, "add", norm, scalar(b, 1e-6))))
    : scalar(b, 1);
  return { finite, scale };
}

export interface AdamWInputs {
  readonly p: Node;
  readonly m: Node;
  readonly v: Node;
  readonly g: Node;
  readonly finite: Node;
  readonly scale: Node;
  readonly stepSize: Node;
  readonly epsHat: Node;
  readonly decay: Node;
}

/** One parameter's AdamW step in elementwise primitives: the new p, m and v, each the old value when
 *  the global norm is not finite. The same formula as the op's reference and its kernel. */
export function adamwPrimitives(b: NodeBuilder, x: AdamWInputs, a: AdamWAttrs): { p: Node; m: Node; v: Node } {
  const g = binary(b, "mul", x.g, x.scale);
  const m2 = binary(b, "add", binary(b, "mul", x.m, scalar(b, a.beta1)), binary(b, "mul", g, scalar(b, 1 - a.beta1)));
  const v2 = binary(
    b,
    "add",
    binary(b, "mul", x.v, scalar(b, a.beta2)),
    binary(b, "mul", unary(b, "square", g), scalar(b, 1 - a.beta2)),
  );
  const adam = binary(b, "div", binary(b, "mul", m2, x.stepSize), binary(b, "add", unary(b, "sqrt", v2), x.epsHat));
  let p2 = binary(b, "sub", x.p, adam);
  if (a.decays) p2 = binary(b, "sub", p2, binary(b, "mul", x.p, x.decay));
  const keep = (next: Node, prev: Node): Node => b.add("select", [broadcastTo(b, x.finite, prev.shape), next, prev]);
  return { p: keep(p2, x.p), m: keep(m2, x.m), v: keep(v2, x.v) };
}

/** State k (0 p, 1 m, 2 v) of an adamw node's stacked result, shaped like the parameter. */
export function adamwState(b: NodeBuilder, stacked: Node, k: 0 | 1 | 2): Node {
  const shape = stacked.shape.slice(1);
  const part = b.add("slice", [stacked], {
    starts: stacked.shape.map((_, i) => (i === 0 ? k : 0)),
    ends: stacked.shape.map((d, i) => (i === 0 ? k + 1 : d)),
  });
  return b.add("reshape", [part], { shape });
}

/** The stacked [3, …] value from three states (the lowering of one adamw node). */
export function stackStates(b: NodeBuilder, s: { p: Node; m: Node; v: Node }): Node {
  return b.add(
    "concat",
    [s.p, s.m, s.v].map((x) => b.add("reshape", [x], { shape: [1, ...x.shape] })),
    { axis: 0 },
  );
}
