// rows.test.ts: write_rows — its reference on a worked example, the GPU against the reference out of
// place (the cache an input) for any axis, dtype and offset (negative and past the end drop rows), and
// in place (the cache a param read by nothing else): the compiled program writes only the rows into the
// param's own buffer, and what it wrote stays there for the next run, as a KV cache needs.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { DTYPES } from "../../compiler/dtype.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { Executor } from "../../runtime/executor.js";
import { expectClose } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";
import {
  accepts,
  expectGpuMatchesReference,
  intIn,
  prng,
  runs,
  seedArb,
  shapeArb,
  singleOp,
  tolFor,
  valuesOf,
} from "./gen.js";

test("the reference replaces rows at the offset and drops rows outside the cache", () => {
  const b = new GraphBuilder();
  const cache = b.input("cache", "i32", [2, 3]);
  const rows = b.input("rows", "i32", [2, 2]);
  const at = b.input("at", "i32", [1]);
  b.output("y", b.add("write_rows", [cache, rows, at], { axis: 1 }));
  const g = b.build();
  const run = (offset: number) =>
    Array.from(runReference(g, { cache: [1, 2, 3, 4, 5, 6], rows: [10, 11, 12, 13], at: [offset] }).y.data);
  expect(run(0)).toEqual([10, 11, 3, 12, 13, 6]);
  expect(run(1)).toEqual([1, 10, 11, 4, 12, 13]);
  expect(run(2)).toEqual([1, 2, 10, 4, 5, 12]); // the second row falls past the end
  expect(run(-1)).toEqual([11, 2, 3, 13, 5, 6]); // the first row falls before the start
});

test("the rule checks that the rows fit the cache and the offset is one integer", () => {
  const ok = (rows: number[], off: { dtype: "i32" | "f32"; shape: number[] }) =>
    accepts("write_rows", [{ dtype: "f32", shape: [2, 5, 3] }, { dtype: "f32", shape: rows }, off], { axis: 1 });
  expect(ok([2, 1, 3], { dtype: "i32", shape: [1] })).toBe(true);
  expect(ok([2, 5, 3], { dtype: "i32", shape: [] })).toBe(true);
  expect(ok([2, 6, 3], { dtype: "i32", shape: [1] })).toBe(false);
  expect(ok([2, 1, 4], { dtype: "i32", shape: [1] })).toBe(false);
  expect(ok([2, 1, 3], { dtype: "i32", shape: [2] })).toBe(true); // one offset per block before the axis
  expect(ok([2, 1, 3], { dtype: "i32", shape: [3] })).toBe(false);
  expect(ok([2, 1, 3], { dtype: "i32", shape: [2, 1] })).toBe(false);
  expect(ok([2, 1, 3], { dtype: "f32", shape: [1] })).toBe(false);
});

describe("write_rows on the GPU matches the reference (out of place)", () => {
  const dtypes = DTYPES.filter((d) =>
    accepts(
      "write_rows",
      [
        { dtype: d, shape: [3] },
        { dtype: d, shape: [1] },
        { dtype: "i32", shape: [1] },
      ],
      { axis: 0 },
    ),
  );
  test.each(dtypes)("%s", async (dtype) => {
    await fc.assert(
      fc.asyncProperty(shapeArb(1, 4, 20_000), fc.nat(), seedArb, async (shape, axisPick, seed) => {
        const r = prng(seed);
        const axis = axisPick % shape.length;
        const count = intIn(r, 1, shape[axis]);
        const rows = shape.map((d, k) => (k === axis ? count : d));
        const offset = intIn(r, -count, shape[axis]); // some rows may fall outside at either end
        const g = singleOp(
          "write_rows",
          [
            { dtype, shape },
            { dtype, shape: rows },
            { dtype: r() < 0.5 ? "i32" : "u32", shape: r() < 0.5 ? [1] : [] },
          ],
          { axis },
        );
        const offType = g.nodes[2].dtype;
        await expectGpuMatchesReference(g, {
          x0: valuesOf(r, dtype, prod(shape)),
          x1: valuesOf(r, dtype, prod(rows)),
          x2: [offType === "u32" ? Math.max(0, offset) : offset],
        });
      }),
      { numRuns: runs(dtype === "f32" ? 12 : 4) },
    );
  });
});

test("the reference writes each block at its own offset when there is one per block", () => {
  const b = new GraphBuilder();
  const y = b.add(
    "write_rows",
    [b.input("cache", "i32", [2, 2, 3]), b.input("rows", "i32", [2, 2, 1]), b.input("at", "i32", [2])],
    { axis: 2 },
  );
  b.output("y", y);
  const got = runReference(b.build(), { cache: Array(12).fill(0), rows: [1, 2, 3, 4], at: [2, 0] }).y.data;
  expect(Array.from(got)).toEqual([0, 0, 1, 0, 0, 2, 3, 0, 0, 4, 0, 0]);
});

test("write_rows with an offset per leading block on the GPU matches the reference, in place and not", async () => {
  await fc.assert(
    fc.asyncProperty(
      shapeArb(2, 4, 20_000),
      fc.nat(),
      seedArb,
      fc.boolean(),
      async (shape, axisPick, seed, inPlace) => {
        const r = prng(seed);
        const axis = 1 + (axisPick % (shape.length - 1));
        const count = intIn(r, 1, shape[axis]);
        const rows = shape.map((d, k) => (k === axis ? count : d));
        const offsets = Array.from({ length: shape[0] }, () => intIn(r, -count, shape[axis]));
        const b = new GraphBuilder();
        const cache = inPlace ? b.param("x0", "f32", shape) : b.input("x0", "f32", shape);
        const w = b.add("write_rows", [cache, b.input("x1", "f32", rows), b.input("x2", "i32", [shape[0]])], { axis });
        b.output("y", inPlace ? w : b.add("neg", [w]));
        await expectGpuMatchesReference(b.build(), {
          x0: valuesOf(r, "f32", prod(shape)),
          x1: valuesOf(r, "f32", prod(rows)),
          x2: offsets,
        });
      },
    ),
    { numRuns: runs(10) },
  );
});

test(
  "into a param read by nothing else, " + "write_rows writes only its rows, in the param's buffer, across runs",
  async () => {
    const gpu = await testGpu();
    const [B, H, S, D] = [2, 3, 7, 5];
    const b = new GraphBuilder();
    const cache = b.param("cache", "f32", [B, H, S, D]);
    const rows = b.input("rows", "f32", [B, H, 1, D]);
    const at = b.input("at", "i32", [1]);
    const w = b.add("write_rows", [cache, rows, at], { axis: 2 });
    b.output("w", w);
    b.output("sum", b.add("reduce_sum", [w], { axes: [2] })); // a reader after the write sees the new row
    const g = b.build();
    const program = compileGraph(g, gpu.limits);
    const write = program.dispatches.find((d) => program.kernels[d.kernel].name.startsWith("write_rows_in_place"));
    expect(write, program.kernels.map((k) => k.name).join(", ")).toBeDefined();
    const cacheBuffer = program.params.find((p) => p.name === "cache")!.buffer;
    expect(write!.buffers.at(-1)).toBe(cacheBuffer);
    expect(write!.buffers).toHaveLength(3); // rows, offset, cache: the cache is not read
    expect(program.buffers.filter((x) => x.bytes === B * H * S * D * 4)).toHaveLength(1); // no copy of it
    expect(program.outputs.find((o) => o.name === "w")!.buffer).toBe(cacheBuffer);

    const ex = await Executor.create(gpu, program);
    try {
      const r = prng(7);
      let expected = valuesOf(r, "f32", B * H * S * D);
      ex.write("cache", expected);
      for (const pos of [0, 3, 6, 3]) {
        const fresh = valuesOf(r, "f32", B * H * D);
        ex.write("rows", fresh);
        ex.write("at", [pos]);
        const got = await ex.run(["sum", "cache"]);
        const ref = runReference(g, { cache: expected, rows: fresh, at: [pos] });
        expect(Array.from(got.cache)).toEqual(Array.from(ref.w.data));
        expectClose(got.sum, ref.sum.data, tolFor("reduce_sum", "f32"));
        expected = Array.from(ref.w.data);
      }
    } finally {
      ex.destroy();
    }
  },
);

test("a param read elsewhere too is copied, not overwritten", async () => {
  const gpu = await testGpu();
  const b = new GraphBuilder();
  const cache = b.param("cache", "f32", [4, 2]);
  const w = b.add("write_rows", [cache, b.input("rows", "f32", [1, 2]), b.input("at", "i32", [1])], { axis: 0 });
  b.output("y", w);
  b.output("old", b.add("neg", [cache]));
  const program = compileGraph(b.build(), gpu.limits);
  expect(program.kernels.some((k) => k.name.startsWith("write_rows_in_place"))).toBe(false);
  const ex = await Executor.create(gpu, program);
  try {
    ex.write("cache", [1, 2, 3, 4, 5, 6, 7, 8]);
    ex.write("rows", [9, 9]);
    ex.write("at", [1]);
    const got = await ex.run(["y", "old", "cache"]);
    expect(Array.from(got.y)).toEqual([1, 2, 9, 9, 5, 6, 7, 8]);
    expect(Array.from(got.old)).toEqual([-1, -2, -3, -4, -5, -6, -7, -8]);
    expect(Array.from(got.cache)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  } finally {
    ex.destroy();
  }
});
