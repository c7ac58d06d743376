// windows.test.ts: tensors past the binding size (compiler/windows.ts). With maxStorageBufferBindingSize
// lowered to 4 KiB, every kernel family binds its large tensors as windows of their buffers and computes
// what the reference does — elementwise (every dtype), reductions, matmul in each variant on either
// operand and the output, gather and scatter-add, movement, row kernels (softmax, layer norm), flash
// attention; a char_lm
// training step (attention, embeddings, AdamW in place) computes the same loss and parameters as with the
// adapter's own limits. The text rewrite itself is checked on a hand-written kernel.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { DTYPES, type DType } from "../../compiler/dtype.js";
import type { Graph } from "../../compiler/ir.js";
import type { DeviceLimits } from "../../compiler/limits.js";
import { binary } from "../../compiler/ops/helpers.js";
import { validateMemoryPlan } from "../../compiler/plan.js";
import { type Program, compileGraph } from "../../compiler/program.js";
import { prod } from "../../compiler/shape.js";
import { DEFAULT_ADAMW, buildTrainStep } from "../../compiler/train-step.js";
import { windowKernel } from "../../compiler/wgsl/windows.js";
import { firstMismatch } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";
import { trainSteps } from "../helpers/train-steps.js";
import { expectGpuMatchesReference, feedsFor, gridValues, intIn, pick, prng, runs, seedArb, singleOp } from "./gen.js";

const SMALL: Partial<DeviceLimits> = { maxStorageBufferBindingSize: 4096 };
const f32 = (...shape: number[]) => ({ dtype: "f32" as DType, shape });

/** One graph per kernel family, its largest tensors 1–3 windows of 4 KiB (so every kernel binds ≤ 16). */
const FAMILIES: Record<string, (r: () => number) => Graph> = {
  elementwise: (r) => {
    const n = pick(r, [1031, 2053, 2400, 3001]); // primes and not, past 1024 f32
    const b = new GraphBuilder();
    const x = b.input("x", "f32", [n]);
    const z = b.input("z", "f32", [n]);
    b.output("y", b.add("exp", [binary(b, "add", binary(b, "mul", x, b.input("s", "f32", [])), z)]));
    b.output("w", b.add("neg", [x]));
    return b.build();
  },
  one_read: (r) => singleOp(pick(r, ["exp", "neg", "abs"]), [f32(4 * intIn(r, 257, 700))]),
  reduce_rows: (r) => singleOp("reduce_sum", [f32(intIn(r, 250, 600), 5)], { axes: [1] }),
  reduce_all: (r) => singleOp(pick(r, ["reduce_sum", "reduce_max"]), [f32(intIn(r, 1100, 3000))], { axes: [0] }),
  matmul_a: (r) => {
    const k = intIn(r, 33, 40);
    return singleOp("matmul", [f32(intIn(r, 40, 90), k), f32(k, 9)]);
  },
  matmul_b: (r) => singleOp("matmul", [f32(7, 29), f32(29, intIn(r, 40, 90))]),
  // C past 4 KiB at every draw (2·22·25 f32 = 4,400 bytes; 20 rows by 25 once fitted in one binding)
  matmul_c: (r) => singleOp("matmul", [f32(2, intIn(r, 22, 60), 3), f32(3, intIn(r, 25, 40))]),
  gather: (r) =>
    singleOp("gather", [f32(intIn(r, 20, 40), 64), { dtype: "i32", shape: [intIn(r, 3, 30)] }], { axis: 0 }),
  scatter_add: (r) => {
    const n = intIn(r, 3, 30);
    return singleOp("scatter_add", [{ dtype: "i32", shape: [n] }, f32(n, 64)], { axis: 0, size: intIn(r, 20, 40) });
  },
  permute: (r) => singleOp("permute", [f32(intIn(r, 20, 45), 67)], { perm: [1, 0] }),
  concat: (r) => singleOp("concat", [f32(intIn(r, 17, 30), 64), f32(intIn(r, 1, 20), 64)], { axis: 0 }),
  softmax: (r) => singleOp("softmax", [f32(intIn(r, 20, 40), 67)], { axis: 1 }),
  // scores past 4 KiB: the flash kernel (compiler/passes/choose-attention.ts), q, k, v and o windowed too
  attention: (r) => {
    const b = new GraphBuilder();
    const t = intIn(r, 33, 60);
    const [q, k, v] = ["q", "k", "v"].map((n) => b.input(n, "f32", [1, 2, t, 16]));
    b.output("o", b.add("attention", [q, k, v], { mask: { kind: "causal" } }));
    return b.build();
  },
  layer_norm: (r) => {
    const b = new GraphBuilder();
    const d = pick(r, [67, 128]);
    const x = b.input("x", "f32", [intIn(r, 16, 30), d]);
    b.output("y", b.add("layer_norm", [x, b.input("g", "f32", [d]), b.input("b", "f32", [d])], { eps: 1e-5 }));
    return b.build();
  },
};

const windowed = (p: Program): number => p.dispatches.filter((d) => d.ranges).length;

describe("tensors past the binding size are bound as windows", () => {
  test.each(Object.keys(FAMILIES))("%s, as the reference", async (family) => {
    const limits = { ...(await testGpu()).limits, ...SMALL };
    await fc.assert(
      fc.asyncProperty(seedArb, fc.constantFrom("registers", "packed", "shared"), async (seed, matmul) => {
        const r = prng(seed);
        const g = FAMILIES[family](r);
        const opts = { limits: SMALL, ...(family.startsWith("matmul") ? { matmul } : {}) };
        const p = compileGraph(g, limits, opts);
        // the property is about windows: at least one dispatch binds one, and each window is in bounds
        expect(windowed(p), family).toBeGreaterThan(0);
        for (const d of p.dispatches)
          d.ranges?.forEach((w, k) => {
            if (!w) return;
            expect(w.offset % 256).toBe(0);
            expect(w.size).toBeLessThanOrEqual(4096);
            expect(w.offset + w.size).toBeLessThanOrEqual(p.buffers[d.buffers[k]].bytes);
          });
        expect(validateMemoryPlan(p.memory.plan, p.memory.values, p.memory.steps)).toEqual([]);
        const feeds = feedsFor(g, (n) =>
          n.dtype === "i32"
            ? Array.from({ length: prod(n.shape) }, () => intIn(r, -2, 40))
            : gridValues(r, n.dtype, prod(n.shape), 4, 1),
        );
        await expectGpuMatchesReference(g, feeds, opts);
      }),
      { numRuns: runs(2) },
    );
  });

  test.each(DTYPES.filter((t) => t !== "f32"))("%s elementwise", async (dtype) => {
    const n = 4099; // past one 4 KiB window in every dtype (f16 has the smallest elements, 2 bytes)
    const b = new GraphBuilder();
    const x = b.input("x", dtype, [n]);
    b.output("y", dtype === "bool" ? b.add("not", [x]) : binary(b, "add", x, x));
    const g = b.build();
    const limits = { ...(await testGpu()).limits, ...SMALL };
    expect(windowed(compileGraph(g, limits))).toBeGreaterThan(0);
    const r = prng(n);
    await expectGpuMatchesReference(
      g,
      feedsFor(g, () => gridValues(r, dtype, n, 4, 1)),
      { limits: SMALL },
    );
  });

  test("a char_lm training step with windows computes the loss and parameters of one without", async () => {
    const gpu = await testGpu();
    const el = loadModel("models/char_lm.mira", { preset: "tiny" }).elaborate({ B: 2, T: 8 });
    const st = buildTrainStep(el.graph, "objective", DEFAULT_ADAMW, () => true);
    const tokens = Array.from({ length: 16 }, (_, i) => (i * 5 + 1) % 60);
    const run = async (limits: DeviceLimits) => {
      // no matmul chains (fuse-chains.ts): they form only where each binding is one buffer, so they would
      // sum in another order on one side, and the key bias's gradient — zero up to rounding — becomes
      // ±lr once AdamW normalises it
      const program = compileGraph(st.graph, limits, { updates: st.updates, chains: false });
      return { ...(await trainSteps(gpu, program, el.params, { tokens }, 2)), windowed: windowed(program) };
    };
    // 8 KiB: the embedding, the MLP's weights and its f32[2, 8, 128] activations are two windows each
    const small = await run({ ...gpu.limits, maxStorageBufferBindingSize: 8192 });
    const whole = await run(gpu.limits);
    expect(small.windowed).toBeGreaterThan(0);
    expect(whole.windowed).toBe(0);
    for (const [k, loss] of small.losses.entries()) expect(Math.abs(loss - whole.losses[k])).toBeLessThan(1e-6);
    for (const p of el.params)
      expect(firstMismatch(small.params[p.name], whole.params[p.name], { atol: 1e-6, rtol: 1e-5 }), p.name).toBe(
        undefined,
      );
  });
});

describe("the kernel rewrite", () => {
  const kernel = {
    name: "k",
    code: [
      "@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;",
      "@group(0) @binding(1) var<storage, read_write> out: array<f32>;",
      "fn main() {",
      "  let n = arrayLength(&a);",
      "  out[a[0].x] = a[out[2]].y + ba[1];",
      "  out[3] = 1.0;",
      "}",
    ].join("\n"),
    workgroups: [1, 1, 1] as const,
    bindings: [
      { name: "a", dtype: "f32" as DType, access: "read" as const, vec: 4 as const },
      { name: "out", dtype: "f32" as DType, access: "read_write" as const },
    ],
  };

  test("reads, stores and arrayLength go through the windows; other names are left alone", () => {
    const k = windowKernel(kernel, [3, 2], 512);
    expect(k.bindings.map((b) => b.name)).toEqual(["a_w0", "a_w1", "a_w2", "out_w0", "out_w1"]);
    expect(k.code).toContain("@group(0) @binding(4) var<storage, read_write> out_w1: array<f32>;");
    // 512 bytes: 32 vec4 entries of a, 128 f32 entries of out
    expect(k.code).toContain("fn a_at(i: u32) -> vec4<f32> {\n  let w = i / 32u;");
    expect(k.code).toContain("  return a_w2[i - 64u];");
    expect(k.code).toContain("  if (w == 0u) { out_w0[i] = v; return; }\n  out_w1[i - 128u] = v;");
    expect(k.code).not.toContain("fn a_put");
    expect(k.code).toContain("let n = arrayLength(&a_w0);");
    expect(k.code).toContain("out_put(u32(a_at(u32(0)).x), a_at(u32(out_at(u32(2)))).y + ba[1]);");
    expect(k.code).toContain("out_put(u32(3), 1.0);");
  });

  test("one window each leaves the kernel as it is", () => {
    expect(windowKernel(kernel, [1, 1], 512)).toBe(kernel);
  });
});
