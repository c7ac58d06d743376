// `mira compile --emit report`'s dispatches by kernel kind and by scan step (compiler/report-dispatches.ts):
// exact counts on a hand-built two-step graph, and the sums on the TTM combiner's training step.
import { describe, expect, test } from "vitest";
import { compileFile } from "../../api/compile.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import type { ScanRecord } from "../../compiler/lower.js";
import { reduce } from "../../compiler/ops/helpers.js";
import { compileGraph } from "../../compiler/program.js";
import { formatReport, reportProgram } from "../../compiler/report.js";
import { dispatchKinds, scanDispatches } from "../../compiler/report-dispatches.js";

/** x → two steps of exp(h · w) → sum: the steps are node ranges as the elaborator records a scan's. */
function twoSteps() {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [4, 8]);
  const w = b.param("w", "f32", [8, 8]);
  let h = x;
  const steps: { start: number; end: number; carries: number[]; yield: number }[] = [];
  for (let i = 0; i < 2; i++) {
    const start = h.id + 1;
    h = b.add("exp", [b.add("matmul", [h, w])]);
    steps.push({ start, end: h.id + 1, carries: [h.id], yield: h.id });
  }
  b.output("y", reduce(b, "reduce_sum", h, [0, 1]));
  const scan: ScanRecord = { span: { file: "two.mira", start: 0, end: 0 }, inits: [x.id], steps, out: h.id };
  return { graph: b.build(), scans: [scan] };
}

describe("dispatches by kind and by scan step", () => {
  test("unfused, each op is a dispatch: two matmuls and two exps in the steps, the sum outside", () => {
    const el = twoSteps();
    const p = compileGraph(el.graph, DEFAULT_LIMITS, { fuse: false });
    expect(p.dispatches).toHaveLength(5);
    expect(dispatchKinds(p)).toEqual([
      { kind: "elementwise", dispatches: 2, kernels: 1 },
      { kind: "matmul", dispatches: 2, kernels: 1 },
      { kind: "reduce", dispatches: 1, kernels: 1 },
    ]);
    const s = scanDispatches(p, el);
    expect(s).toEqual({
      scans: [{ at: "two.mira@0", steps: [2, 2], modelSteps: [2, 2] }],
      outside: 1,
      unattributed: 0,
    });
  });

  test("fused, an exp runs in a matmul's epilogue or the sum's prologue: a matmul dispatch per step", () => {
    const el = twoSteps();
    // without matmul chains, which would run both steps' matmuls in one kernel (below)
    const p = compileGraph(el.graph, DEFAULT_LIMITS, { chains: false });
    // the first exp in the first matmul's kernel, the second in the sum's (counted outside the scan)
    expect(dispatchKinds(p)).toEqual([
      { kind: "matmul", dispatches: 2, kernels: 2 },
      { kind: "reduce", dispatches: 1, kernels: 1 },
    ]);
    expect(scanDispatches(p, el).scans[0].steps).toEqual([1, 1]);
  });

  test("chained, both steps' matmuls run in one kernel, counted as a matmul dispatch of the later step", () => {
    const el = twoSteps();
    const p = compileGraph(el.graph, DEFAULT_LIMITS);
    expect(p.dispatches.map((d) => p.kernels[d.kernel].name)[0]).toMatch(/^chain_exp_/);
    expect(dispatchKinds(p)).toEqual([
      { kind: "matmul", dispatches: 1, kernels: 1 },
      { kind: "reduce", dispatches: 1, kernels: 1 },
    ]);
    expect(scanDispatches(p, el).scans[0].steps).toEqual([0, 1]);
  });

  test("sequenced, the small dispatches run as one sequence kernel", () => {
    const el = twoSteps();
    const p = compileGraph(el.graph, DEFAULT_LIMITS, { sequence: true });
    expect(dispatchKinds(p)).toEqual([{ kind: "sequence", dispatches: 1, kernels: 1 }]);
  });

  test("the source's line names the scan", () => {
    const el = twoSteps();
    const p = compileGraph(el.graph, DEFAULT_LIMITS, { fuse: false });
    const sources = new Map([["two.mira", "model\n"]]);
    const text = formatReport(reportProgram(p), "two steps", scanDispatches(p, el, sources));
    expect(text).toContain("scan at two.mira:1: 2 steps, 2, 2 per step (4 in all)");
    expect(text).toContain("outside any scan: 1");
    expect(text).toMatch(/ {4}matmul +2 +1\n/);
  });

  // Without parallel kernels (compiler/parallel.ts), whose merged dispatches count at their last member's
  // place: a step's last dispatch may run beside the next one's first, so the steps at a scan's ends differ.
  const ttm = (step: "forward" | "train", parallel: boolean) =>
    compileFile("models/mirasol.mira", {
      preset: "tiny",
      set: ["chunks=4", "max_chunks=4", "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)"],
      batch: { B: 1, L: 16 },
      step,
      limits: DEFAULT_LIMITS,
      parallel,
    });

  test("TTM combiner, 4 chunks, training step: kinds and places each add up to every dispatch", async () => {
    const c = await ttm("train", false);
    const r = c.report();
    expect(r.kinds.reduce((n, k) => n + k.dispatches, 0)).toBe(r.dispatches);
    expect(r.kinds.map((k) => k.kind)).toEqual(expect.arrayContaining(["matmul", "optimizer", "row kernel"]));
    const s = scanDispatches(c.program, c.elaborated, c.model.sources);
    expect(s.scans).toHaveLength(1);
    const [scan] = s.scans;
    expect(scan.at).toMatch(/combiners\.mira:\d+$/);
    expect(scan.steps).toHaveLength(4);
    // the nodes a step's source computes dispatch alike in every step
    expect(new Set(scan.modelSteps).size).toBe(1);
    expect(scan.modelSteps[0]).toBeGreaterThan(0);
    // the compiler's nodes (gradients) are placed by their inputs, which differ at the scan's ends, and a
    // rewrite that joins values of several steps (passes/simplify-boxes.ts) places its nodes by where they
    // came from: the middle steps within a dispatch or two, every step more than its model nodes
    expect(Math.abs(scan.steps[1] - scan.steps[2])).toBeLessThanOrEqual(2);
    for (const [i, n] of scan.steps.entries()) expect(n).toBeGreaterThan(scan.modelSteps[i]);
    const placed = scan.steps.reduce((a, b) => a + b, 0) + s.outside + s.unattributed;
    expect(placed).toBe(r.dispatches);
  });

  test("TTM combiner, 4 chunks, forward: every step takes the same dispatches, the last fewer", async () => {
    const c = await ttm("forward", false);
    const s = scanDispatches(c.program, c.elaborated);
    const [scan] = s.scans;
    expect(scan.steps).toHaveLength(4);
    expect(new Set(scan.steps.slice(0, 3)).size).toBe(1);
    // the last step's memory write is read by no later step: once its read tokens are taken straight from
    // the concat they were sliced out of (passes/simplify-boxes.ts), that work is pruned
    expect(scan.steps[3]).toBeLessThan(scan.steps[0]);
    expect(scan.steps.reduce((a, b) => a + b, 0) + s.outside + s.unattributed).toBe(c.program.dispatches.length);
  });

  test("with parallel kernels: fewer dispatches in all and in each step, places and kinds add up", async () => {
    for (const step of ["forward", "train"] as const) {
      const [off, on] = [await ttm(step, false), await ttm(step, true)];
      expect(on.program.dispatches.length, step).toBeLessThan(off.program.dispatches.length);
      const s = scanDispatches(on.program, on.elaborated);
      const [scan] = s.scans;
      // a merged dispatch counts at its last member, which may come from the next step: each step fewer
      // than without merging, the middle steps within a few dispatches of each other
      const plain = scanDispatches(off.program, off.elaborated).scans[0];
      for (const [i, n] of scan.steps.entries()) expect(n, `${step}, step ${i}`).toBeLessThan(plain.steps[i]);
      expect(Math.abs(scan.steps[1] - scan.steps[2]), step).toBeLessThanOrEqual(4);
      expect(scan.steps.reduce((a, b) => a + b, 0) + s.outside + s.unattributed).toBe(on.program.dispatches.length);
      const kinds = on.report().kinds;
      expect(kinds.reduce((n, k) => n + k.dispatches, 0)).toBe(on.program.dispatches.length);
      expect(kinds.map((k) => k.kind)).toContain("parallel");
    }
  });
});
