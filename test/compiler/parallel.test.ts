// parallel.test.ts: parallel kernels (compiler/parallel.ts) — independent dispatches as one dispatch over
// their grids laid end to end, a later one moving up when nothing in between forbids it. The rules on
// buffers (what may run unordered beside what) on hand-made dispatches; then, on the GPU, the same bits
// as one dispatch per kernel for random graphs, a training step and a decoding step (the counts issue
// #20 asks for: dispatch-counts.test.ts).
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { parallelDispatches } from "../../compiler/parallel.js";
import { type Dispatch, compileGraph } from "../../compiler/program.js";
import type { Feeds } from "../../compiler/reference.js";
import type { Binding, KernelSource } from "../../compiler/wgsl/common.js";
import { testGpu } from "../helpers/gpu.js";
import { charLmDecodeCase, charLmTrainCase, compareOption, randomGraphsMerged } from "../helpers/variants.js";
import { prng } from "./gen.js";

/** A kernel that reads its first binding and writes its second, in the frame every family emits. */
function copyKernel(name: string, threads = 64, barrier = false): KernelSource {
  const bindings: Binding[] = [
    { name: "a", dtype: "f32", access: "read" },
    { name: "out", dtype: "f32", access: "read_write" },
  ];
  const code = `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${threads})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  out[gid.x] = a[gid.x] + 1.0;${barrier ? "\n  workgroupBarrier();" : ""}
}
`;
  return { name, code, workgroups: [2, 1, 1], bindings };
}

/** Dispatches of copy kernels: [read, written] buffer ids each. */
const copies = (...rw: [number, number][]): { kernels: KernelSource[]; dispatches: Dispatch[] } => ({
  kernels: [copyKernel("copy")],
  dispatches: rw.map(([r, w], node) => ({ kernel: 0, buffers: [r, w], workgroups: [2, 1, 1], node })),
});

const merged = (x: { kernels: KernelSource[]; dispatches: Dispatch[] }): number[] =>
  parallelDispatches(x.kernels, x.dispatches, DEFAULT_LIMITS).dispatches.map((d) => d.workgroups[0] / 2);

describe("which dispatches run side by side", () => {
  test("independent ones merge (reads may be shared); a dependent one stays apart", () => {
    expect(merged(copies([0, 1], [0, 2], [3, 4]))).toEqual([3]); // one input read by all three
    expect(merged(copies([0, 1], [1, 2]))).toEqual([1, 1]); // reads what the first writes
    expect(merged(copies([0, 1], [2, 1]))).toEqual([1, 1]); // writes what the first writes
    expect(merged(copies([0, 1], [2, 0]))).toEqual([1, 1]); // writes what the first reads
  });

  test("a later dispatch moves up past the ones between only when it is apart from each of them", () => {
    // the third reads what the second writes: it stays; the fourth passes it and joins the first two
    expect(merged(copies([0, 1], [2, 3], [3, 4], [5, 6]))).toEqual([3, 1]);
    // [1, 2] depends on the first; [3, 4] passes it
    expect(merged(copies([0, 1], [1, 2], [3, 4]))).toEqual([2, 1]);
    // [5, 2] would pass [1, 2], which writes the same buffer: the three stay in order
    expect(merged(copies([0, 1], [1, 2], [5, 2]))).toEqual([1, 1, 1]);
    // [2, 5] reads what [1, 2] writes: passing it would read the buffer before it is written
    expect(merged(copies([0, 1], [1, 2], [2, 5]))).toEqual([1, 1, 1]);
    // [5, 0] writes what the first reads, so it stays; [6, 5] would pass it and overwrite the 5 it reads
    expect(merged(copies([0, 1], [5, 0], [6, 5]))).toEqual([1, 1, 1]);
    expect(merged(copies([0, 1], [5, 0], [6, 8]))).toEqual([2, 1]);
  });

  test("no member comes from further than the window", () => {
    // a chain of 20 that starts from the first dispatch's result, then one that could join the first
    const chain = Array.from({ length: 20 }, (_, k): [number, number] => [k === 0 ? 1 : 100 + k, 101 + k]);
    const far = copies([0, 1], ...chain, [30, 31]);
    const first = (window: number) =>
      parallelDispatches(far.kernels, far.dispatches, DEFAULT_LIMITS, { maxMembers: 4, window }).dispatches[0];
    expect(first(16).workgroups[0]).toBe(2); // alone (the last joins a run of the chain's instead)
    expect(first(21).workgroups[0]).toBe(4);
  });

  test("the grid is the members' laid end to end; at most four members; smaller workgroups packed", () => {
    const six = copies([0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0, 6]);
    const out = parallelDispatches(six.kernels, six.dispatches, DEFAULT_LIMITS);
    expect(out.dispatches.map((d) => d.workgroups)).toEqual([
      [8, 1, 1],
      [4, 1, 1],
    ]);
    expect(out.kernels.map((k) => k.name)).toEqual(["par4_copy_to_copy", "par2_copy_to_copy"]);
    // a member with fewer threads runs several of its workgroups in one, unless it has barriers (or
    // workgroup memory) or its size does not divide the kernel's
    const pair = (b: KernelSource) =>
      parallelDispatches(
        [copyKernel("a", 64), b],
        [0, 1].map((k) => ({ kernel: k, buffers: [0, k + 1], workgroups: [2, 1, 1] as const, node: k })),
        DEFAULT_LIMITS,
      ).dispatches.map((d) => d.workgroups[0]);
    expect(pair(copyKernel("b", 32))).toEqual([3]); // 2 of a's, then b's two in one
    expect(pair(copyKernel("b", 16))).toEqual([3]);
    expect(pair(copyKernel("b", 32, true))).toEqual([2, 2]);
    expect(pair(copyKernel("b", 48))).toEqual([2, 2]);
  });

  test("members beyond the storage-buffer limit start a new run", () => {
    const x = copies([0, 1], [2, 3], [4, 5], [6, 7]);
    const limits = { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 6 };
    expect(parallelDispatches(x.kernels, x.dispatches, limits).dispatches.map((d) => d.workgroups[0] / 2)).toEqual([
      3, 1,
    ]);
  });

  test("three projections of one input: one dispatch; members' workgroup memory declared alike is shared", () => {
    const on = compileGraph(projections(), DEFAULT_LIMITS);
    const off = compileGraph(projections(), DEFAULT_LIMITS, { parallel: false });
    expect(off.dispatches).toHaveLength(3);
    expect(on.dispatches).toHaveLength(1);
    const k = on.kernels[on.dispatches[0].kernel];
    expect(k.name).toMatch(/^par3_/);
    // the shared-memory matmul's two 4 KiB tiles, once: three copies would not fit WebGPU's 16 KiB
    expect(k.code.match(/^var<workgroup>/gm)).toHaveLength(2);
  });
});

/** x [rows, 64] projected by three weights, each product an output. */
function projections(rows = 1) {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [rows, 64]);
  for (const name of ["q", "k", "v"]) b.output(name, b.add("matmul", [x, b.param(`w${name}`, "f32", [64, 64])]));
  return b.build();
}

describe("parallel kernels equal one dispatch per kernel, bit for bit", () => {
  test("random graphs, at 8 storage buffers per stage and at this adapter's limit", async () => {
    // the property spoke of parallel kernels, not of programs left alone
    expect(await randomGraphsMerged("parallel")).toBeGreaterThan(8);
  });

  test("three projections with workgroup barriers (a GPU's shared-memory matmul), rows 1, 7 and 130", async () => {
    const gpu = await testGpu();
    const limits = { ...gpu.limits, adapterKind: "gpu" as const };
    for (const rows of [1, 7, 130]) {
      const graph = projections(rows);
      const r = prng(rows);
      const feeds: Feeds = Object.fromEntries(
        graph.nodes
          .filter((n) => n.op === "input" || n.op === "param")
          .map((n) => [n.attrs.name!, Array.from({ length: n.shape[0] * n.shape[1] }, () => r() - 0.5)]),
      );
      const { merged } = await compareOption("parallel", graph, limits, () => feeds);
      expect(merged.dispatches, `rows ${rows}`).toHaveLength(1);
      expect(merged.kernels[merged.dispatches[0].kernel].code, `rows ${rows}`).toContain("workgroupBarrier");
    }
  });

  test("char_lm: three training steps (loss, gradients through AdamW, updated weights)", async () => {
    const c = charLmTrainCase();
    const gpu = await testGpu();
    const { merged, plain } = await compareOption("parallel", c.graph, gpu.limits, c.feeds, { updates: c.updates }, 3);
    expect(merged.dispatches.length).toBeLessThan(plain.dispatches.length);
  }, 300_000);

  test("char_lm decoding step: sampled token and logits", async () => {
    const c = charLmDecodeCase();
    const { merged, plain } = await compareOption("parallel", c.graph, (await testGpu()).limits, () => c.feeds);
    expect(merged.dispatches.length).toBeLessThan(plain.dispatches.length);
  }, 300_000);
});
