// elementwise-suite.ts: the per-op property of elementwise.test.ts — each op on the GPU against the
// reference, on shapes of rank 0–4, rank-0 operands broadcast, values from the op's domain, in every
// dtype its own rule accepts — as a function of the ops to cover, so that a test can run it on ops it
// adds to the table (toy-op.test.ts).
import fc from "fast-check";
import { describe, test } from "vitest";
import { DTYPES, type DType } from "../../compiler/dtype.js";
import { opSpec } from "../../compiler/ops/index.js";
import type { ElementwiseOp } from "../../compiler/ops/spec.js";
import { prod } from "../../compiler/shape.js";
import { accepts, expectGpuMatchesReference, prng, runs, seedArb, shapeArb, singleOp, valuesOf } from "./gen.js";

type Sig = readonly DType[];

/** Input dtypes under which an op is tested: all inputs one dtype, or (select) a bool condition first. */
function signatures(op: string): Sig[] {
  const spec = opSpec(op) as ElementwiseOp;
  const n = spec.arity as number;
  const sigs: Sig[] = [];
  for (const d of DTYPES) {
    const same = Array<DType>(n).fill(d);
    const cond: DType[] = ["bool", ...Array<DType>(n - 1).fill(d)];
    const t = (ds: Sig) => ds.map((dtype) => ({ dtype, shape: [3] }));
    if (accepts(op, t(same))) sigs.push(same);
    else if (n > 1 && accepts(op, t(cond))) sigs.push(cond);
  }
  return sigs;
}

/** (op, signature) pairs: one per dtype signature each op accepts. */
export const elementwiseCases = (ops: readonly string[]): [string, string][] =>
  ops.flatMap((op) => signatures(op).map((sig) => [op, sig.join(",")] as [string, string]));

// A case: the output shape, which inputs are rank 0 (broadcast inside the kernel), and a value seed.
const caseArb = (arity: number) =>
  fc.record({
    shape: shapeArb(0, 4),
    scalar: fc.array(
      fc.integer({ min: 0, max: 3 }).map((k) => k === 0),
      { minLength: arity, maxLength: arity },
    ),
    seed: seedArb,
  });

/** Registers "elementwise ops match the reference" for `ops` (elementwise ops needing no attributes). */
export function describeElementwiseOps(ops: readonly string[]): void {
  describe("elementwise ops match the reference", () => {
    test.each(elementwiseCases(ops))("%s (%s)", async (op, sigText) => {
      const sig = sigText.split(",") as DType[];
      const domain = (opSpec(op) as ElementwiseOp).domain ?? "any";
      await fc.assert(
        fc.asyncProperty(caseArb(sig.length), async ({ shape, scalar, seed }) => {
          const r = prng(seed);
          const g = singleOp(
            op,
            sig.map((dtype, k) => ({ dtype, shape: scalar[k] ? [] : shape })),
          );
          const feeds: Record<string, number[]> = {};
          g.nodes
            .filter((n) => n.op === "input")
            .forEach((n) => (feeds[n.attrs.name!] = valuesOf(r, n.dtype, prod(n.shape), domain)));
          await expectGpuMatchesReference(g, feeds);
        }),
        { numRuns: runs(sig[sig.length - 1] === "f32" ? 12 : 6) },
      );
    });
  });
}
