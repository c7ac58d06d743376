// reduce.test.ts: every reduction of the table on the GPU against the reference, over random axis subsets
// with and without keepDims, through both kernel strategies: one thread per output (many short rows) and
// one workgroup per output with a tree in workgroup memory (few outputs, rows of 256 or more). Which
// strategy a shape takes depends on the adapter kind; both kinds' choices run here on the test adapter.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { DTYPES, type DType } from "../../compiler/dtype.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { opsOfKind } from "../../compiler/ops/index.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import {
  accepts,
  expectGpuMatchesReference,
  gridValues,
  prng,
  runs,
  seedArb,
  shapeArb,
  singleOp,
  valuesOf,
} from "./gen.js";

const REDUCE = opsOfKind("reduce");
const cases = REDUCE.flatMap((op) =>
  DTYPES.filter((d) => accepts(op, [{ dtype: d, shape: [2] }], { axes: [0] })).map((d) => [op, d] as [string, DType]),
);

interface ReduceCase {
  shape: number[];
  axes: number[];
  keepDims: boolean;
  seed: number;
}

const caseArb: fc.Arbitrary<ReduceCase> = shapeArb(1, 4, 70_000).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axes: fc.subarray(shape.map((_, i) => i)),
    keepDims: fc.boolean(),
    seed: seedArb,
  }),
);

const rowLength = (c: ReduceCase) => prod(c.axes.map((a) => c.shape[a]));
const outputs = (c: ReduceCase) => prod(c.shape) / rowLength(c);
/** Compiled as for a GPU: the workgroup tree for long rows and few outputs (see wgsl/reduce.ts). */
const AS_GPU = { adapterKind: "gpu" } as const;
const isTree = (c: ReduceCase) => rowLength(c) >= 256 && outputs(c) < 4096;
const usesWorkgroupMemory = (op: string, dtype: DType, c: ReduceCase, kind: "cpu" | "gpu" = "gpu") =>
  compileGraph(singleOp(op, [{ dtype, shape: c.shape }], { axes: c.axes, keepDims: c.keepDims }), {
    ...DEFAULT_LIMITS,
    shaderF16: true,
    adapterKind: kind,
  }).kernels.some((k) => k.code.includes("var<workgroup>"));

async function check(op: string, dtype: DType, c: ReduceCase, limits: { adapterKind?: "gpu" } = {}): Promise<void> {
  const g = singleOp(op, [{ dtype, shape: c.shape }], { axes: c.axes, keepDims: c.keepDims });
  const r = prng(c.seed);
  // Sums and means draw from a dyadic grid, on which f32 sums are exact in any order (gen.ts); max and
  // min take any values, including repeated ones.
  const n = prod(c.shape);
  const xs = op === "reduce_sum" || op === "reduce_mean" ? gridValues(r, dtype, n, 4, 2) : valuesOf(r, dtype, n);
  await expectGpuMatchesReference(g, { x0: xs }, { limits });
}

describe("reductions match the reference", () => {
  test.each(cases)("%s (%s), many short rows: one thread per output", async (op, dtype) => {
    await fc.assert(
      fc.asyncProperty(
        caseArb.filter((c) => !isTree(c)),
        async (c) => {
          expect(usesWorkgroupMemory(op, dtype, c)).toBe(false);
          await check(op, dtype, c, AS_GPU);
        },
      ),
      { numRuns: runs(dtype === "f32" ? 12 : 6) },
    );
  });

  test.each(cases)("%s (%s), long rows: workgroup tree", async (op, dtype) => {
    await fc.assert(
      fc.asyncProperty(caseArb.filter(isTree), async (c) => {
        expect(usesWorkgroupMemory(op, dtype, c)).toBe(true);
        await check(op, dtype, c, AS_GPU);
      }),
      { numRuns: runs(dtype === "f32" ? 12 : 6) },
    );
  });
});

describe("on a CPU adapter", () => {
  test.each(cases)(
    "%s (%s): one thread per output except for a handful of outputs over very long rows",
    async (op, dtype) => {
      await fc.assert(
        fc.asyncProperty(caseArb.filter(isTree), async (c) => {
          expect(usesWorkgroupMemory(op, dtype, c, "cpu")).toBe(outputs(c) <= 4 && rowLength(c) >= 4096);
          await check(op, dtype, c);
        }),
        { numRuns: runs(dtype === "f32" ? 6 : 3) },
      );
    },
  );
});

describe("empty tensors", () => {
  test("a sum over an empty axis is 0, on both strategies' shapes", async () => {
    for (const [rows, cols] of [
      [3, 4],
      [1, 300],
      [5000, 2],
    ]) {
      const b = new GraphBuilder();
      const x = b.input("x", "f32", [rows, cols]);
      const empty = b.add("slice", [x], { starts: [0, 2], ends: [rows, 2] }); // f32[rows, 0]
      b.output("s", b.add("reduce_sum", [empty], { axes: [1] }));
      b.output(
        "e",
        b.add("reduce_sum", [b.add("permute", [empty], { perm: [1, 0] })], { axes: [0, 1], keepDims: true }),
      );
      const g = b.build();
      await expectGpuMatchesReference(g, { x: Array.from({ length: rows * cols }, (_, i) => i + 1) });
      expect(
        runReference(g, { x: Array.from({ length: rows * cols }, (_, i) => i + 1) }).s.data.every((v) => v === 0),
      ).toBe(true);
    }
  });
});

test("a reduction over an axis an iota in its prologue runs along reads that iota's coordinate per term", async () => {
  // The fused prologue is evaluated at `base + j·stride`; the iota's coordinate of that sum once lost
  // its parentheses (base + j·stride / stride), picking the wrong row of a one-hot selection.
  const shape = [3, 14, 5];
  const b = new GraphBuilder();
  const x = b.add("exp", [b.input("x", "f32", shape)]);
  const want = b.add("broadcast", [b.add("reshape", [b.input("at", "i32", [3])], { shape: [3, 1, 1] })], { shape });
  const hit = b.add("eq", [b.add("iota", [], { shape, axis: 1, dtype: "i32" }), want]);
  const picked = b.add("select", [hit, x, b.add("full", [], { value: 0, dtype: "f32", shape: [] })]);
  b.output("y", b.add("reduce_sum", [picked], { axes: [1], keepDims: true }));
  const g = b.build();
  expect(
    compileGraph(g, DEFAULT_LIMITS).kernels.some((k) => k.name.includes("iota") && k.name.includes("reduce_sum")),
  ).toBe(true); // fused
  const r = prng(3);
  await expectGpuMatchesReference(g, { x: valuesOf(r, "f32", prod(shape)), at: [4, 0, 13] });
});
