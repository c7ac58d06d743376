// row-fusion.test.ts: row kernels (fuse-rows.ts, wgsl/row-group.ts). Counts: a layer norm, a softmax,
// a log-softmax and a cross-entropy are one kernel forward and at most two backward, for rows of 1 to
// 1024 elements. Values: fused equals unfused (the same f32 arithmetic in the same order, so within a
// few ulps) and both equal the float64 reference, forward and gradients, for row lengths of 1, primes,
// the row kernel's workgroup size ± 1 and beyond.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { grad } from "../../compiler/grad.js";
import type { Graph, Node } from "../../compiler/ir.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu, testGpu } from "../helpers/gpu.js";
import { prng, runs, seedArb, valuesOf } from "./gen.js";

type RowOp = "layer_norm" | "softmax" | "log_softmax" | "cross_entropy";
const ROW_OPS: RowOp[] = ["layer_norm", "softmax", "log_softmax", "cross_entropy"];

/** `op` over the last axis of x: [rows, d]; with `loss`, a scalar loss reads it (sum(y · w), or the mean
 *  negative log-likelihood of targets for cross-entropy), so that its gradient can be taken. */
function rowGraph(op: RowOp, rows: number, d: number, loss: boolean): Graph {
  const b = new GraphBuilder();
  const x = loss ? b.param("x", "f32", [rows, d]) : b.input("x", "f32", [rows, d]);
  let y: Node;
  if (op === "layer_norm")
    y = b.add("layer_norm", [x, b.param("g", "f32", [d]), b.param("b", "f32", [d])], { eps: 1e-5 });
  else if (op === "cross_entropy") {
    // −Σ log_softmax(x) · one_hot(t) over the classes, per row (std.losses' MaskedCrossEntropy)
    const t = b.input("t", "i32", [rows]);
    const classes = b.add("iota", [], { shape: [rows, d], axis: 1, dtype: "i32" });
    const col = b.add("broadcast", [b.add("reshape", [t], { shape: [rows, 1] })], { shape: [rows, d] });
    const hot = b.add("cast", [b.add("eq", [classes, col])], { dtype: "f32" });
    const picked = b.add("mul", [b.add("log_softmax", [x], { axis: 1 }), hot]);
    y = b.add("neg", [b.add("reduce_sum", [picked], { axes: [1] })]);
  } else y = b.add(op, [x], { axis: 1 });
  if (!loss) b.output("y", y);
  else if (op === "cross_entropy") b.output("loss", b.add("reduce_mean", [y], { axes: [0] }));
  else b.output("loss", b.add("reduce_sum", [b.add("mul", [y, b.input("w", "f32", [rows, d])])], { axes: [0, 1] }));
  return b.build();
}

function feedsFor(g: Graph, seed: number): Record<string, number[]> {
  const r = prng(seed);
  const feeds: Record<string, number[]> = {};
  for (const n of g.nodes) {
    if (n.op !== "input" && n.op !== "param") continue;
    const d = n.shape.at(-1) ?? 1;
    feeds[n.attrs.name!] =
      n.dtype === "i32"
        ? valuesOf(r, "f32", prod(n.shape), "unit").map((v) => Math.floor(Math.abs(v) * d) % d)
        : valuesOf(r, "f32", prod(n.shape)).map((v) => v * 2);
  }
  return feeds;
}

const ROW_LENGTHS = [1, 2, 3, 7, 31, 63, 64, 65, 127, 257, 1024];

describe("row kernels: counts", () => {
  test.each(ROW_OPS)("%s: one kernel forward, at most two backward, rows of 1 … 1024", async (op) => {
    const limits = (await testGpu()).limits;
    for (const d of ROW_LENGTHS) {
      const fwd = compileGraph(rowGraph(op, 6, d, false), limits);
      expect(fwd.dispatches.length, `${op} d=${d} forward: ${fwd.kernels.map((k) => k.name).join(", ")}`).toBe(1);
      // the graph with a loss: forward kernel + the loss's reduction (folded into the forward kernel when
      // it reduces over the same rows), then the backward
      const withLoss = rowGraph(op, 6, d, true);
      const forward = compileGraph(withLoss, limits).dispatches.length;
      const both = compileGraph(grad(withLoss, "loss"), limits);
      const names = both.dispatches.map((x) => both.kernels[x.kernel].name).join(", ");
      expect(forward, `${op} d=${d} forward with loss`).toBeLessThanOrEqual(2);
      expect(both.dispatches.length - forward, `${op} d=${d} backward: ${names}`).toBeLessThanOrEqual(2);
    }
  });

  test("without fusion the same graphs take several kernels (the count above is the fusion's doing)", async () => {
    const limits = (await testGpu()).limits;
    expect(
      compileGraph(rowGraph("layer_norm", 6, 32, false), limits, { fuse: false }).dispatches.length,
    ).toBeGreaterThan(4);
  });
});

/** fused and unfused f32 differ by reassociation inside fused expressions only */
const FUSED_VS_UNFUSED = { atol: 1e-5, rtol: 1e-4 };
const VS_REFERENCE = { atol: 1e-4, rtol: 1e-3 };

/** (rows, row length): a single element; a prime length; one row past a 64-row workgroup; a row longer
 *  than a workgroup; a 1024-element row */
const VALUE_CASES = [
  [1, 1],
  [3, 7],
  [65, 13],
  [2, 257],
  [1, 1024],
] as const;

describe("row kernels: values", () => {
  test.each(ROW_OPS)(
    "%s forward and gradients: fused = unfused = reference",
    async (op) => {
      await fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          for (const [rows, d] of VALUE_CASES) {
            for (const g of [rowGraph(op, rows, d, false), grad(rowGraph(op, rows, d, true), "loss")]) {
              const feeds = feedsFor(g, seed);
              const fused = await runOnGpu(g, feeds);
              const unfused = await runOnGpu(g, feeds, { fuse: false });
              const ref = runReference(g, feeds);
              for (const o of g.outputs) {
                const a = firstMismatch(fused[o.name], unfused[o.name], FUSED_VS_UNFUSED);
                if (a) throw new Error(`${op} rows ${rows} d ${d} ${o.name}: fused vs unfused ${a}`);
                const b = firstMismatch(fused[o.name], ref[o.name].data, VS_REFERENCE);
                if (b) throw new Error(`${op} rows ${rows} d ${d} ${o.name}: fused vs reference ${b}`);
              }
            }
          }
        }),
        // every case compiles ~15 new shaders (fused and unfused; llvmpipe: 0.1–0.9 s each)
        { numRuns: runs(1) },
      );
    },
    600_000,
  );
});

test("a reduction of a reduction over rows of one element, and identical outputs, equal the reference", async () => {
  // the second reduction reads the first's per-row value as its element (graphs.test.ts found this case)
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [1]);
  b.output("a", b.add("neg", [x]));
  b.output("b", b.add("neg", [x]));
  const m = b.add("reduce_max", [x], { axes: [0], keepDims: true });
  b.output("m", m);
  b.output("mm", b.add("reduce_max", [m], { axes: [0], keepDims: true }));
  const g = b.build();
  const got = await runOnGpu(g, { x: [0.25] });
  const ref = runReference(g, { x: [0.25] });
  for (const o of g.outputs) expect([...got[o.name]], o.name).toEqual([...ref[o.name].data]);
});
