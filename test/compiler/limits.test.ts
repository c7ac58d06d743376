// limits.test.ts: device limits are read, not assumed. With limits lowered artificially: a tensor past one
// buffer, or bound as more windows than a kernel may bind (windows.test.ts has the ones that fit), is a
// compile-time LimitError naming the fix; a concat of more inputs than a
// kernel may bind is split and still right; dispatches past maxComputeWorkgroupsPerDimension fold into
// y and z and are still right, in every kernel family; f16 without shader-f16 is a LimitError.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { DTYPES, type DType } from "../../compiler/dtype.js";
import type { Graph } from "../../compiler/ir.js";
import { DEFAULT_LIMITS, type DeviceLimits, LimitError } from "../../compiler/limits.js";
import { type Program, compileGraph } from "../../compiler/program.js";
import { prod } from "../../compiler/shape.js";
import {
  expectGpuMatchesReference,
  feedsFor,
  gridValues,
  intIn,
  pick,
  prng,
  runs,
  seedArb,
  singleOp,
  valuesOf,
} from "./gen.js";

const limits = (l: Partial<DeviceLimits>): DeviceLimits => ({ ...DEFAULT_LIMITS, shaderF16: true, ...l });

function compileError(g: Graph, l: Partial<DeviceLimits>): LimitError {
  try {
    compileGraph(g, limits(l));
  } catch (e) {
    if (e instanceof LimitError) return e;
    throw e;
  }
  throw new Error("expected a LimitError, but the graph compiled");
}

describe("compile-time limit errors name the fix", () => {
  test("an input past maxStorageBufferBindingSize in more windows than a kernel binds", () => {
    // 2 KiB in windows of 256 B: 8 bindings for x0 and 8 for the result, past WebGPU's 8
    const e = compileError(singleOp("exp", [{ dtype: "f32", shape: [512] }]), { maxStorageBufferBindingSize: 256 });
    expect(e.message).toBe(
      "kernel exp_512 binds 'x0' f32[512] (2.0 KiB, 8 windows), f32[512] (2.0 KiB, 8 windows): with windows of " +
        "256 B it needs 16 storage buffers, but this device allows 8 per kernel; lower the batch size or the " +
        "model width (--set), or compile for a device with larger bindings (--limits)",
    );
  });

  test("an intermediate larger than maxBufferSize", () => {
    const b = new GraphBuilder();
    const u = b.input("u", "f32", [64, 1]);
    const v = b.input("v", "f32", [1, 64]);
    b.output("s", b.add("reduce_sum", [b.add("matmul", [u, v])], { axes: [0, 1] })); // f32[64, 64] = 16 KiB in between
    const e = compileError(b.build(), { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 8192 });
    expect(e.message).toMatch(
      new RegExp(
        /^tensor %2 f32\[64, 64\] \(matmul\) needs 16\.0 KiB, /.source +
          /but a buffer on this device holds at most 8\.0 KiB; lower the batch size or the model width/.source,
      ),
    );
  });

  test("a tensor of exactly the limit compiles", () => {
    expect(() =>
      compileGraph(singleOp("exp", [{ dtype: "f32", shape: [256] }]), limits({ maxStorageBufferBindingSize: 1024 })),
    ).not.toThrow();
  });

  test("f16 without shader-f16", () => {
    const e = compileError(singleOp("cast", [{ dtype: "f32", shape: [4] }], { dtype: "f16" }), { shaderF16: false });
    expect(e.message).toBe(
      "f16 needs adapter feature 'shader-f16', which this adapter lacks; store values in f32 (--set precision=f32)",
    );
  });

  test("a kernel that must bind more buffers than maxStorageBuffersPerShaderStage", () => {
    // select reads three materialized inputs and writes one: four bindings, no way to split.
    const g = singleOp("select", [
      { dtype: "bool", shape: [8] },
      { dtype: "f32", shape: [8] },
      { dtype: "f32", shape: [8] },
    ]);
    expect(compileError(g, { maxStorageBuffersPerShaderStage: 3 }).message).toMatch(
      /binds 4 storage buffers but this device allows 3 per shader stage/,
    );
    expect(() => compileGraph(g, limits({ maxStorageBuffersPerShaderStage: 4 }))).not.toThrow();
  });
});

const maxBindings = (p: Program) => Math.max(...p.kernels.map((k) => k.bindings.length));

describe("a concat of more inputs than a kernel may bind is split", () => {
  test("into dispatches within the limit, equal to the reference", async () => {
    const arb = fc.record({
      perStage: fc.integer({ min: 2, max: 5 }),
      count: fc.integer({ min: 2, max: 13 }),
      dtype: fc.constantFrom(...DTYPES),
      shape: fc.array(fc.constantFrom(1, 2, 3, 5, 7), { minLength: 1, maxLength: 3 }),
      axisPick: fc.nat(),
      seed: seedArb,
    });
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const r = prng(c.seed);
        const axis = c.axisPick % c.shape.length;
        const inputs = Array.from({ length: c.count }, () => ({
          dtype: c.dtype as DType,
          shape: c.shape.map((d, k) => (k === axis ? intIn(r, 1, 4) : d)),
        }));
        const g = singleOp("concat", inputs, { axis });
        const l = { maxStorageBuffersPerShaderStage: c.perStage };
        const p = compileGraph(g, limits(l));
        expect(p.dispatches.length).toBe(Math.ceil(c.count / (c.perStage - 1)));
        expect(maxBindings(p)).toBeLessThanOrEqual(c.perStage);
        await expectGpuMatchesReference(
          g,
          feedsFor(g, (n) => valuesOf(r, n.dtype, prod(n.shape))),
          { limits: l },
        );
      }),
      { numRuns: runs(12) },
    );
  });
});

describe("dispatches past maxComputeWorkgroupsPerDimension fold into y and z", () => {
  // One graph per kernel family, sized to need more than `max` (and often more than max²) workgroups.
  const FAMILIES: Record<string, (r: () => number) => Graph> = {
    // a multiple of 4: four elements per index (wgsl/fused.ts), so 4× as many for as many workgroups
    elementwise: (r) =>
      singleOp(pick(r, ["exp", "neg", "abs"]), [{ dtype: "f32", shape: [4 * intIn(r, 3000, 20000)] }]),
    // an odd element count: one element per index
    elementwise2: (r) => {
      const shape = [2 * intIn(r, 10, 45) + 1, 257];
      return singleOp("add", [
        { dtype: "f32", shape },
        { dtype: "f32", shape },
      ]);
    },
    iota: (r) => singleOp("iota", [], { shape: [intIn(r, 10, 80), 1200], axis: 1, dtype: "i32" }), // four per index
    random: (r) => singleOp("random_uniform", [{ dtype: "u32", shape: [] }], { shape: [4 * intIn(r, 3000, 20000)] }),
    movement: (r) => singleOp("permute", [{ dtype: "f32", shape: [intIn(r, 20, 90), 257] }], { perm: [1, 0] }),
    concat: (r) =>
      singleOp(
        "concat",
        [
          { dtype: "f32", shape: [intIn(r, 60, 200), 64] },
          { dtype: "f32", shape: [intIn(r, 1, 9), 64] },
        ],
        { axis: 0 },
      ),
    reduce_rows: (r) => singleOp("reduce_sum", [{ dtype: "f32", shape: [intIn(r, 2000, 9000), 3] }], { axes: [1] }),
    // few outputs with long rows: one workgroup per output, so ≥ 10 outputs pass every `max` drawn (6–9)
    reduce_tree: (r) =>
      singleOp(
        pick(r, ["reduce_sum", "reduce_max", "reduce_mean"]),
        [{ dtype: "f32", shape: [intIn(r, 10, 120), 300] }],
        { axes: [1] },
      ),
    matmul_registers: (r) =>
      singleOp("matmul", [
        { dtype: "f32", shape: [intIn(r, 2, 5), intIn(r, 100, 200), 9] },
        { dtype: "f32", shape: [9, intIn(r, 130, 260)] },
      ]),
    matmul_shared: (r) =>
      singleOp("matmul", [
        { dtype: "f32", shape: [intIn(r, 2, 5), intIn(r, 100, 260), 9] },
        { dtype: "f32", shape: [9, intIn(r, 100, 200)] },
      ]),
    gather: (r) =>
      singleOp(
        "gather",
        [
          { dtype: "f32", shape: [50, 64] },
          { dtype: "i32", shape: [intIn(r, 40, 200)] }, // ≥ 40 rows of 64: more than 9 workgroups
        ],
        { axis: 0 },
      ),
    scatter_add: (r) => {
      const n = intIn(r, 40, 200); // as gather: enough workgroups to fold at every drawn limit
      return singleOp(
        "scatter_add",
        [
          { dtype: "i32", shape: [n] },
          { dtype: "f32", shape: [n, 64] },
        ],
        { axis: 0, size: intIn(r, 60, 200) },
      );
    },
  };

  test.each(Object.keys(FAMILIES))("%s", async (family) => {
    await fc.assert(
      // max ≥ 6 so that max³ ≥ 216 workgroups, more than any case here needs.
      fc.asyncProperty(fc.integer({ min: 6, max: 9 }), seedArb, async (max, seed) => {
        const r = prng(seed);
        const g = FAMILIES[family](r);
        const opts = {
          limits: { maxComputeWorkgroupsPerDimension: max },
          matmul: family === "matmul_shared" ? ("shared" as const) : ("registers" as const),
        };
        const p = compileGraph(g, limits(opts.limits), opts);
        const ws = p.dispatches.map((d) => d.workgroups);
        expect(ws.every((w) => w.every((x) => x <= max))).toBe(true);
        expect(ws.some((w) => w[1] > 1 || w[2] > 1)).toBe(true);
        const feeds = feedsFor(g, (n) =>
          n.dtype === "i32"
            ? Array.from({ length: prod(n.shape) }, () => intIn(r, -2, 60))
            : n.dtype === "u32"
              ? [seed]
              : gridValues(r, n.dtype, prod(n.shape), 4, 1),
        );
        await expectGpuMatchesReference(g, feeds, opts);
      }),
      { numRuns: runs(4) },
    );
  });
});
