// graphs.test.ts: random small IR graphs (2–8 ops drawn from the whole op table, random-graph.ts) run on
// the GPU and on the reference. Every node is checked against its op's reference applied to the GPU's
// values of its inputs, at that op's tolerance, so errors allowed to one op do not compound down the
// graph; graphs made only of exact ops are also compared end to end.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { printGraph } from "../../compiler/ir.js";
import { opSpec } from "../../compiler/ops/index.js";
import { runReference } from "../../compiler/reference.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu } from "../helpers/gpu.js";
import { prng, runs, singleOp, tolFor } from "./gen.js";
import { EXACT_OPS, OP_NAMES, checkable, graphArb, randomGraph } from "./random-graph.js";

describe("random graphs", () => {
  test.each([
    ["all ops", OP_NAMES, 20],
    ["exact ops only", EXACT_OPS, 10],
  ] as const)("%s: GPU equals the reference, node by node", async (_, opNames, numRuns) => {
    await fc.assert(
      fc.asyncProperty(graphArb, async ({ shape, steps, seed }) => {
        const { graph, draw } = randomGraph(shape, steps, opNames);
        const r = prng(seed);
        const feeds = Object.fromEntries([...draw].map(([name, f]) => [name, f(r)]));
        const got = await runOnGpu(graph, feeds);
        const values = (id: number): ArrayLike<number> => {
          const n = graph.nodes[id];
          return n.op === "input" ? runReference(singleOp("cast", [{ dtype: n.dtype, shape: n.shape }], { dtype: n.dtype }), { x0: feeds[n.attrs.name!] }).y.data : got[`n${id}`];
        };
        const ops = graph.nodes.filter((n) => n.op !== "input");
        expect(ops.length).toBeGreaterThanOrEqual(2);
        for (const n of ops) {
          const ins = n.inputs.map(values);
          if (!checkable(n, ins)) continue;
          const local = singleOp(n.op, n.inputs.map((i) => graph.nodes[i]), n.attrs);
          const ref = runReference(local, Object.fromEntries(ins.map((v, k) => [`x${k}`, v]))).y.data;
          const bad = firstMismatch(got[`n${n.id}`], ref, tolFor(n.op, n.dtype));
          if (bad) throw new Error(`node %${n.id} (${n.op}): ${bad}\n${printGraph(graph)}`);
        }
        // Graphs of exact ops only (movement, comparisons, casts, …) must also agree end to end, and
        // so must their sinks when nothing else is an output — then the chains are fused into kernels.
        if (ops.every((n) => opSpec(n.op).tol.atol === 0 && opSpec(n.op).tol.rtol === 0)) {
          const ref = runReference(graph, feeds);
          for (const n of ops) {
            const bad = firstMismatch(got[`n${n.id}`], ref[`n${n.id}`].data, { atol: 0, rtol: 0 });
            if (bad) throw new Error(`end to end, node %${n.id} (${n.op}): ${bad}\n${printGraph(graph)}`);
          }
          const used = new Set(graph.nodes.flatMap((n) => n.inputs));
          const sinks = { nodes: graph.nodes, outputs: graph.outputs.filter((o) => !used.has(o.id)) };
          const fused = await runOnGpu(sinks, feeds);
          for (const o of sinks.outputs) {
            const bad = firstMismatch(fused[o.name], ref[o.name].data, { atol: 0, rtol: 0 });
            if (bad) throw new Error(`fused, sink ${o.name}: ${bad}\n${printGraph(sinks)}`);
          }
        }
      }),
      { numRuns: runs(numRuns) },
    );
  });
});
