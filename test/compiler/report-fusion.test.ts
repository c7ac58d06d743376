// report-fusion.test.ts: the report's fusion line (compiler/report.ts) — how many row groups and matmul
// chains the plan formed, and the matmul pairs it left as two kernels with the reason: past the chains'
// cost rule, a row kernel between the products (attention's softmax), batch axes. Compiled for the
// default limits; no GPU.
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { CHAIN_MAX_HIDDEN } from "../../compiler/fuse-chains.js";
import { compileGraph } from "../../compiler/program.js";
import { formatReport, reportProgram } from "../../compiler/report.js";

/** x [m, 8] · w₁ [8, n] → gelu → · w₂ [n, 8]: an MLP of `m` rows and hidden width `n`. */
function mlp(m: number, n: number) {
  const b = new GraphBuilder();
  const h = b.add("gelu", [b.add("matmul", [b.input("x", "f32", [m, 8]), b.param("w1", "f32", [8, n])])]);
  b.output("y", b.add("matmul", [h, b.param("w2", "f32", [n, 8])]));
  return b.build();
}

describe("the report's fusion line", () => {
  test("an MLP within the cost rule is one chain, and nothing is left apart", () => {
    const r = reportProgram(compileGraph(mlp(4, 32), DEFAULT_LIMITS));
    expect(r.fusion).toEqual({ rowKernels: 0, chains: 1, notFormed: [] });
    expect(formatReport(r, "mlp")).toContain("fusion       0 row groups, 1 matmul chains planned\n");
  });

  test("past the cost rule the pair is listed with its hidden size and the reason", () => {
    const m = CHAIN_MAX_HIDDEN / 16;
    const r = reportProgram(compileGraph(mlp(m, 32), DEFAULT_LIMITS));
    expect(r.fusion.chains).toBe(0);
    expect(r.fusion.notFormed).toEqual([
      { pair: `${m}×8 · 8×32 → · 32×8`, hidden: m * 32, count: 1, why: expect.stringMatching(/cost rule/) },
    ]);
    expect(formatReport(r, "mlp")).toMatch(/ {4}1 × 256×8 · 8×32 → · 32×8 \(8,192\): the hidden value is larger/);
  });

  test("attention: a softmax between its products, and batch axes, each named", () => {
    const b = new GraphBuilder();
    const [q, k, v] = ["q", "k", "v"].map((n) => b.input(n, "f32", [2, 5, 8]));
    const p = b.add("softmax", [b.add("matmul", [q, k], { transB: true })], { axis: 2 });
    const o = b.add("matmul", [p, v]);
    // a second product straight after the first, batched: not a chain either
    b.output(
      "y",
      b.add("matmul", [b.add("matmul", [o, b.input("w", "f32", [2, 8, 3])]), b.input("u", "f32", [2, 3, 4])]),
    );
    const r = reportProgram(compileGraph(b.build(), DEFAULT_LIMITS));
    const whys = r.fusion.notFormed.map((x) => x.why);
    expect(whys).toContain("a row kernel between the products");
    expect(whys.some((w) => /batch axes/.test(w))).toBe(true);
    expect(r.fusion.notFormed.find((x) => x.why.startsWith("a row kernel"))!.pair).toBe("2×5×8 · 2×5×8 → · 2×5×8");
  });

  test("at most MISSES_LISTED pairs, largest hidden value first", () => {
    const b = new GraphBuilder();
    for (const m of [300, 400, 500, 600, 700, 800, 900, 1000, 1100]) {
      const h = b.add("matmul", [b.input(`x${m}`, "f32", [m, 8]), b.param(`w${m}`, "f32", [8, 32])]);
      b.output(`y${m}`, b.add("matmul", [h, b.param(`v${m}`, "f32", [32, 8])]));
    }
    const r = reportProgram(compileGraph(b.build(), DEFAULT_LIMITS));
    expect(r.fusion.notFormed.map((x) => x.hidden)).toEqual(
      [1100, 1000, 900, 800, 700, 600, 500, 400].map((m) => m * 32),
    );
  });
});
