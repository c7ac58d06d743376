// The compile pipeline: compileGraph runs the named passes in order and logs the nodes each leaves,
// which `--emit report` lists with the schedule's dispatches; rewrite() copies a graph by a rule.
import { describe, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { printGraph } from "../../compiler/ir.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { PASSES } from "../../compiler/pipeline.js";
import { compileGraph } from "../../compiler/program.js";
import { formatPasses, reportPasses } from "../../compiler/report-passes.js";
import { rewrite } from "../../compiler/rewrite.js";
import { DEFAULT_ADAMW, buildTrainStep } from "../../compiler/train-step.js";

describe("pass pipeline", () => {
  const el = loadModel("models/char_lm.mira", { preset: "tiny" }).elaborate({ B: 2, T: 8 });
  const st = buildTrainStep(el.graph, "objective", DEFAULT_ADAMW, () => true);

  test("a training step runs every pass in order; the last one leaves the program's graph", () => {
    const p = compileGraph(st.graph, DEFAULT_LIMITS, { updates: st.updates });
    expect(p.passes.map((x) => x.name)).toEqual(PASSES.map((x) => x.name));
    const names = [
      "prune",
      "lower-composites",
      "simplify",
      "join-products",
      "join-shared-operands",
      "place-optimizer",
      "plan-fusion",
      "tune-matmuls",
      "plan-rows",
      "plan-chains",
    ];
    expect(p.passes.map((x) => x.name)).toEqual(names);
    expect(p.passes.at(-1)!.nodes).toBe(p.graph.nodes.length);
    expect(p.passes[0].nodes).toBeLessThanOrEqual(st.graph.nodes.length);
    // char_lm has layer norms and attention: lowering them adds nodes
    expect(p.passes[1].nodes).toBeGreaterThan(p.passes[0].nodes);
  });

  test("the report lists each pass with its node count, then the dispatches and buffers", () => {
    const p = compileGraph(st.graph, DEFAULT_LIMITS, { updates: st.updates });
    const text = formatPasses(reportPasses(p));
    const lines = text.split("\n");
    expect(lines[0]).toBe("  passes (in order, with what each leaves):");
    p.passes.forEach((x, i) => expect(lines[i + 1]).toMatch(new RegExp(`^ {4}${x.name} +${x.nodes} nodes$`)));
    const dispatches = `${p.dispatches.length} dispatches \\(${p.kernels.length} distinct kernels\\)`;
    expect(lines.at(-2)).toMatch(new RegExp(`^ {4}schedule +${dispatches}$`));
    expect(lines.at(-1)).toMatch(new RegExp(`^ {4}allocate +${p.buffers.length} buffers$`));
  });

  test("unfused, adamw is lowered to primitives by place-optimizer: more nodes after it", () => {
    const p = compileGraph(st.graph, DEFAULT_LIMITS, { updates: st.updates, fuse: false });
    const at = (name: string): number => p.passes.find((x) => x.name === name)!.nodes;
    expect(at("place-optimizer")).toBeGreaterThan(at("lower-composites"));
  });
});

describe("rewrite", () => {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [3, 5]);
  const y = b.add("exp", [b.add("neg", [x])]);
  b.output("y", b.add("reduce_sum", [y], { axes: [1] }));
  const g = b.build();

  test("a rule that keeps every node reproduces the graph, ids included", () => {
    const r = rewrite(g, () => undefined);
    expect(r.graph).toEqual(g);
    for (const n of g.nodes) expect(r.map.get(n.id)!.id).toBe(n.id);
  });

  test("a rule's replacement is used by later nodes and outputs", () => {
    const r = rewrite(g, (n, ins, nb) => (n.op === "exp" ? nb.add("tanh", [ins[0]]) : undefined));
    expect(printGraph(r.graph)).toBe(printGraph(g).replace("exp(", "tanh("));
  });
});
