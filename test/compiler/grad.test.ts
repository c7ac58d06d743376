// grad.test.ts: every gradient rule against central finite differences in float64 on the reference
// (directional checks along random directions, loss = Σ y·w with random weights w so the cotangent is
// not trivial), the GPU's gradients against the reference's, and stop_gradient blocking the gradient.
import fc from "fast-check";
import { GraphBuilder } from "../../compiler/builder.js";
import { describe, expect, test } from "vitest";
import { grad, gradName } from "../../compiler/grad.js";
import { reduce } from "../../compiler/ops/helpers.js";
import { OPS, type OpName } from "../../compiler/ops/index.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { expectClose } from "../helpers/close.js";
import { accepts, runs } from "./gen.js";
import {
  caseArb,
  directional,
  expectGpuGradientsMatch,
  expectMatchesFiniteDifferences,
  finiteDifferenceTests,
  gpuGradientTests,
} from "./grad-suite.js";
import {
  Draw,
  GRADIENT_ONLY,
  type GradCase,
  STEP_ONLY,
  MASK_KINDS,
  NO_FLOAT_INPUT,
  attentionCase,
  caseBuilder,
  modelCase,
  values,
} from "./grad-cases.js";

const ALL_OPS = Object.keys(OPS) as OpName[];
const FLOAT_OPS = ALL_OPS.filter(
  (op) => !NO_FLOAT_INPUT.includes(op) && !GRADIENT_ONLY.includes(op) && !STEP_ONLY.includes(op),
);

test("every op taking a float input has a gradient case builder", () => {
  for (const op of FLOAT_OPS)
    expect(
      caseBuilder(op),
      `no gradient case builder for '${op}' (add one in test/compiler/grad-cases.ts)`,
    ).toBeDefined();
  // The exemptions must really take no float: no inputs at all, or a rule that rejects f32 inputs.
  for (const op of NO_FLOAT_INPUT) {
    const arity = OPS[op].arity;
    const n = typeof arity === "number" ? arity : 1;
    expect(
      n === 0 ||
        !accepts(
          op,
          Array.from({ length: n }, () => ({ dtype: "f32", shape: [] })),
          { shape: [3], dtype: "f32", axis: 0 },
        ),
      `${op} accepts f32 inputs`,
    ).toBe(true);
  }
});

describe("gradients match float64 central differences on the reference", () => {
  finiteDifferenceTests(FLOAT_OPS);

  test.each(MASK_KINDS)("attention with mask %s", (kind) => {
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        expectMatchesFiniteDifferences(attentionCase(kind)(d), d.rand());
      }),
      { numRuns: runs(60) },
    );
  });

  test("a small model: embedding, layer_norm, causal attention, gelu MLP, log_softmax loss", () => {
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        expectMatchesFiniteDifferences(modelCase(d), d.rand());
      }),
      { numRuns: runs(30) },
    );
  });
});

// A sample, not a sweep: on lavapipe every new kernel is JIT-compiled at its first dispatch (≈ 1 s for
// a matmul when the machine is busy), and random shapes make most kernels new. Attention runs once per
// mask kind instead of in the per-op loop. One shape, several value sets: those reuse the compiled kernels.
describe("GPU gradients equal reference gradients", () => {
  gpuGradientTests(FLOAT_OPS.filter((op) => op !== "attention"));

  test.each(MASK_KINDS)("attention with mask %s", async (kind) => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (g) => {
        const d = new Draw(g, true);
        await expectGpuGradientsMatch(attentionCase(kind)(d), d.rand(), 4);
      }),
      { numRuns: runs(1) },
    );
  });

  test("a small model: embedding, layer_norm, causal attention, gelu MLP, log_softmax loss", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (g) => {
        const d = new Draw(g, true);
        await expectGpuGradientsMatch(modelCase(d), d.rand());
      }),
      { numRuns: runs(1) },
    );
  });
});

describe("stop_gradient blocks the gradient", () => {
  // loss = Σ w·x·stop_gradient(x): with the second factor held constant d loss/dx = w·x; a rule that
  // let the gradient through would give the true derivative 2·w·x, which central differences see.
  test("d/dx Σ w·x·sg(x) = w·x, not the 2·w·x that finite differences measure", () => {
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        const r = d.rand();
        const shape = d.shape(1, 3);
        const b = new GraphBuilder();
        const x = b.param("x", "f32", shape);
        const c: GradCase = {
          b,
          y: b.add("mul", [x, b.add("stop_gradient", [x])]),
          feeds: { x: values(r, prod(shape)).map((v) => v + Math.sign(v)) },
        };
        const { an, fd, feeds, grads } = directional(c, r);
        expectClose(
          grads.x,
          feeds.x.map((v, i) => v * feeds.w[i]),
          { atol: 1e-12, rtol: 1e-12 },
          "grad:x",
        );
        expect(Math.abs(fd - 2 * an), `fd ${fd} should be twice the blocked derivative ${an}`).toBeLessThanOrEqual(
          1e-6 + 1e-6 * Math.abs(fd),
        );
        expect(Math.abs(fd - an)).toBeGreaterThan(1e-3 * Math.abs(fd));
      }),
      { numRuns: runs(10) },
    );
  });
});

describe("regressions", () => {
  // grad() built the zero gradient of a param that no gradient reaches (through floor, sign, a
  // comparison, or not used at all) with broadcastTo(scalar 0), which stays rank 0: grad:x was f32[].
  test("a param no gradient reaches gets zeros of its own shape", () => {
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        const shape = d.shape(1, 3);
        const b = new GraphBuilder();
        const x = b.param("x", "f32", shape);
        b.param("unused", "f32", shape);
        b.output(
          "loss",
          reduce(
            b,
            "reduce_sum",
            b.add("floor", [x]),
            shape.map((_, i) => i),
          ),
        );
        const gg = grad(b.build(), "loss");
        const out = runReference(gg, { x: values(d.rand(), prod(shape)), unused: values(d.rand(), prod(shape)) });
        for (const p of ["x", "unused"]) {
          expect(out[gradName(p)].shape, gradName(p)).toEqual(shape);
          expect(
            [...out[gradName(p)].data].every((v) => v === 0),
            gradName(p),
          ).toBe(true);
        }
      }),
      { numRuns: runs(25) },
    );
  });

  // sliceVjp built the zeros between strided elements with broadcastTo(scalar), which keeps a scalar
  // rank 0, so concat rejected it: the gradient of any slice with a step > 1 failed to build.
  test("slice with steps > 1", () => {
    fc.assert(
      fc.property(caseArb, (g) => {
        const d = new Draw(g);
        const r = d.rand();
        const b = new GraphBuilder();
        const x = b.param("x", "f32", [5, 3]);
        const c: GradCase = {
          b,
          y: b.add("slice", [x], { starts: [1, 0], ends: [5, 3], steps: [3, 2] }),
          feeds: { x: values(r, 15) },
        };
        expectMatchesFiniteDifferences(c, r);
      }),
      { numRuns: runs(25) },
    );
  });
});
