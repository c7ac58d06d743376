// strided.test.ts: views as strides (compiler/strided.ts) against the reference. A random chain of
// reshapes, permutes, slices and broadcasts over x = 0, 1, 2, … reads, at each index of the view, the
// element number the strides name — whenever storedView gives strides; without a reshape it always does.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { Node } from "../../compiler/ir.js";
import { runReference } from "../../compiler/reference.js";
import { prod, stridesOf, unravel } from "../../compiler/shape.js";
import { reshaped, storedView } from "../../compiler/strided.js";
import { type Rand, intIn, pick, prng, runs, seedArb } from "./gen.js";

type Step = { op: string; attrs: Record<string, unknown> };

/** A view op applicable to `shape`, drawn by `r`; `reshapes`: whether reshapes may be drawn. */
function drawStep(r: Rand, shape: number[], reshapes: boolean): Step {
  const kinds = ["permute", "slice", "broadcast", ...(reshapes ? ["reshape", "reshape"] : [])];
  const kind = pick(r, kinds);
  if (kind === "permute") {
    const perm = shape.map((_, k) => k);
    for (let k = perm.length - 1; k > 0; k--) {
      const j = intIn(r, 0, k);
      [perm[k], perm[j]] = [perm[j], perm[k]];
    }
    return { op: "permute", attrs: { perm } };
  }
  if (kind === "slice") {
    const steps = shape.map((d) => (d > 2 && r() < 0.3 ? 2 : 1));
    const starts = shape.map((d, k) => intIn(r, 0, Math.max(0, d - 1 - steps[k])));
    const ends = shape.map((d, k) => intIn(r, starts[k] + 1, d));
    return { op: "slice", attrs: { starts, ends, steps } };
  }
  if (kind === "broadcast") {
    const to = [...(r() < 0.5 ? [intIn(r, 2, 3)] : []), ...shape.map((d) => (d === 1 ? intIn(r, 1, 3) : d))];
    return { op: "broadcast", attrs: { shape: to } };
  }
  // reshape: merge two neighbouring axes, or split one into two factors
  const out = [...shape];
  const k = intIn(r, 0, Math.max(0, shape.length - 1));
  const factors = (d: number) => [...Array(d).keys()].map((i) => i + 1).filter((f) => d % f === 0);
  if (shape.length > 1 && k + 1 < shape.length && r() < 0.5) out.splice(k, 2, shape[k] * shape[k + 1]);
  else if (shape.length > 0) {
    const f = pick(r, factors(shape[k]));
    out.splice(k, 1, f, shape[k] / f);
  } else out.push(1);
  return { op: "reshape", attrs: { shape: out } };
}

/** x of `shape` holding its own flat indices, `steps` views of it drawn by `seed`, and the last view. */
function chain(shape: number[], seed: number, steps: number, reshapes: boolean) {
  const r = prng(seed);
  const b = new GraphBuilder();
  const x = b.input("x", "f32", shape);
  let v: Node = x;
  for (let s = 0; s < steps; s++) {
    const st = drawStep(r, [...v.shape], reshapes);
    if (prod(v.shape) * (st.op === "broadcast" ? 3 : 1) > 20_000) break;
    v = b.add(st.op, [v], st.attrs);
  }
  b.output("y", v);
  const g = b.build();
  const y = runReference(g, { x: Array.from({ length: prod(shape) }, (_, i) => i) }).y.data;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  return { g, v, y, strided: storedView(v.id, byId, (id) => id !== x.id) };
}

const shapeArb = fc.array(fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 12), { minLength: 1, maxLength: 4 });

describe("strided views", () => {
  test("the strides name the element the reference reads, at every index", () => {
    let described = 0;
    fc.assert(
      fc.property(shapeArb, seedArb, fc.integer({ min: 1, max: 5 }), fc.boolean(), (shape, seed, steps, rs) => {
        const { v, y, strided } = chain(shape, seed, steps, rs);
        if (!rs) expect(strided, "permute, slice and broadcast chains always have strides").toBeDefined();
        if (!strided) return;
        described++;
        expect(strided.view.shape).toEqual(v.shape);
        for (let i = 0; i < y.length; i++) {
          const c = unravel(i, v.shape);
          const at = c.reduce((o, ck, k) => o + ck * strided.view.strides[k], strided.view.offset);
          if (at !== y[i]) expect({ index: i, at }).toEqual({ index: i, at: y[i] });
        }
      }),
      { numRuns: runs(300) },
    );
    expect(described).toBeGreaterThan(runs(150));
  });

  test("a reshape that merges axes a permute swapped has no strides; splitting them has", () => {
    const v = { shape: [4, 3], strides: [1, 4], offset: 0 }; // the transpose of a [3, 4]
    expect(reshaped(v, [12])).toBeUndefined();
    expect(reshaped(v, [2, 2, 3])).toEqual({ shape: [2, 2, 3], strides: [2, 1, 4], offset: 0 });
    // attention heads: [B, T, H·D] split and permuted to [B, H, T, D]
    const heads = reshaped({ shape: [2, 5, 12], strides: stridesOf([2, 5, 12]), offset: 0 }, [2, 5, 3, 4])!;
    expect(heads.strides).toEqual([60, 12, 4, 1]);
    // axes of size 1 and broadcast axes merge with anything
    expect(reshaped({ shape: [3, 1, 4], strides: [0, 7, 0], offset: 5 }, [12])).toEqual({
      shape: [12],
      strides: [0],
      offset: 5,
    });
  });
});
