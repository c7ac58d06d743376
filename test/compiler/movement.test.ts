// movement.test.ts: every movement op of the table on the GPU against the reference (exactly), in every
// dtype: reshape, permute, broadcast, slice with steps, pad with a fill value, concat of 1–5 inputs.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DTYPES, type DType } from "../../compiler/dtype.js";
import type { Attrs } from "../../compiler/ir.js";
import { opsOfKind } from "../../compiler/ops/index.js";
import { type Shape, prod } from "../../compiler/shape.js";
import {
  DIMS,
  type Rand,
  expectGpuMatchesReference,
  intIn,
  pick,
  prng,
  runs,
  seedArb,
  shapeArb,
  singleOp,
  valueOf,
  valuesOf,
} from "./gen.js";

interface Case {
  inputs: Shape[];
  attrs: Attrs;
}

function shuffle<T>(r: Rand, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = intIn(r, 0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Per movement op: from a base shape, the input shapes and attributes of one case. */
const CASES: Record<string, (r: Rand, s: Shape, dtype: DType) => Case> = {
  reshape: (r, s) => {
    // Same elements: shuffle the dims, merge some neighbours, sprinkle size-1 axes.
    const dims = shuffle(r, s);
    const out: number[] = [];
    for (const d of dims) {
      if (out.length && r() < 0.3) out[out.length - 1] *= d;
      else out.push(d);
      if (r() < 0.15) out.push(1);
    }
    return { inputs: [s], attrs: { shape: out } };
  },
  permute: (r, s) => ({
    inputs: [s],
    attrs: {
      perm: shuffle(
        r,
        s.map((_, i) => i),
      ),
    },
  }),
  broadcast: (r, s) => {
    // s is the output; the input drops some leading axes and keeps others as 1.
    const lead = intIn(r, 0, s.length);
    return { inputs: [s.slice(lead).map((d) => (r() < 0.4 ? 1 : d))], attrs: { shape: [...s] } };
  },
  slice: (r, s) => {
    const starts = s.map((d) => intIn(r, 0, d));
    const ends = s.map((d, k) => intIn(r, starts[k], d));
    const steps = s.map(() => pick(r, [1, 1, 2, 3, 5]));
    return { inputs: [s], attrs: { starts, ends, steps } };
  },
  pad: (r, s, dtype) => ({
    inputs: [s],
    attrs: {
      lo: s.map(() => intIn(r, 0, 3)),
      hi: s.map(() => intIn(r, 0, 3)),
      value: r() < 0.5 ? 0 : valueOf(r, dtype),
    },
  }),
  concat: (r, s) => {
    const axis = intIn(r, 0, s.length - 1);
    const count = intIn(r, 1, 5);
    const inputs = Array.from({ length: count }, () => s.map((d, k) => (k === axis ? pick(r, DIMS.slice(0, 6)) : d)));
    return { inputs, attrs: { axis } };
  },
};

test("every movement op has a case generator", () => {
  expect(Object.keys(CASES).sort()).toEqual([...opsOfKind("movement")].sort());
});

const cases = opsOfKind("movement").flatMap((op) => DTYPES.map((d) => [op, d] as [string, DType]));

describe("movement ops match the reference", () => {
  test.each(cases)("%s (%s)", async (op, dtype) => {
    // Rank 0 only where the op has no per-axis attribute (a rank-0 concat has no axis).
    const minRank = op === "concat" ? 1 : 0;
    await fc.assert(
      fc.asyncProperty(shapeArb(minRank, 4, 20_000), seedArb, async (shape, seed) => {
        const r = prng(seed);
        const c = CASES[op](r, shape, dtype);
        const g = singleOp(
          op,
          c.inputs.map((s) => ({ dtype, shape: s })),
          c.attrs,
        );
        const feeds = Object.fromEntries(c.inputs.map((s, i) => [`x${i}`, valuesOf(r, dtype, prod(s))]));
        await expectGpuMatchesReference(g, feeds);
      }),
      { numRuns: runs(dtype === "f32" ? 15 : 6) },
    );
  });
});
