// graphs.test.ts: random small IR graphs (2–8 ops drawn from the whole op table, random-graph.ts) run on
// the GPU and on the reference. Every node is checked against its op's reference applied to the GPU's
// values of its inputs, at that op's tolerance, so errors allowed to one op do not compound down the
// graph; graphs made only of exact ops are also compared end to end.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type Graph, type Node, printGraph } from "../../compiler/ir.js";
import { opSpec } from "../../compiler/ops/index.js";
import { runReference } from "../../compiler/reference.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu } from "../helpers/gpu.js";
import { prng, runs, singleOp, tolFor } from "./gen.js";
import { EXACT_OPS, OP_NAMES, type SkipReason, graphArb, randomGraph, skipReason } from "./random-graph.js";

/** A skip is expected when the op declares a domain (or is layer_norm, for its own reason), or when the values
 *  come from an op upstream (exp overflows, a division by zero, …): graph inputs are drawn finite and small. */
function expectedSkip(graph: Graph, n: Node, why: SkipReason): boolean {
  switch (why) {
    case "input outside the op's domain":
      return (opSpec(n.op) as { domain?: string }).domain !== undefined;
    case "ill-conditioned layer_norm row":
      return n.op === "layer_norm";
    case "non-finite input":
    case "input past ±1e4":
      return n.inputs.some((i) => graph.nodes[i].op !== "input");
  }
}

describe("random graphs", () => {
  // A node whose inputs its op's tolerance does not speak for is skipped (random-graph.ts, skipReason). Skips
  // are counted: at least `share` of the op nodes must be checked (over 1000 graphs drawn on the reference: all
  // ops 88%, the worst run of 20 graphs 78%, log, sqrt, rsqrt, pow, sin and cos on unbounded inputs skipped
  // most; exact ops: every node), and each skip must be of a kind its node explains — see `expectedSkip`.
  test.each([
    ["all ops", OP_NAMES, 20, 0.7],
    ["exact ops only", EXACT_OPS, 10, 1],
  ] as const)("%s: GPU equals the reference, node by node", async (_, opNames, numRuns, share) => {
    const tally = { checked: 0, skipped: 0, unexpected: [] as string[] };
    await fc.assert(
      fc.asyncProperty(graphArb, async ({ shape, steps, seed }) => {
        const { graph, draw } = randomGraph(shape, steps, opNames);
        const r = prng(seed);
        const feeds = Object.fromEntries([...draw].map(([name, f]) => [name, f(r)]));
        const got = await runOnGpu(graph, feeds);
        const values = (id: number): ArrayLike<number> => {
          const n = graph.nodes[id];
          return n.op === "input"
            ? runReference(singleOp("cast", [{ dtype: n.dtype, shape: n.shape }], { dtype: n.dtype }), {
                x0: feeds[n.attrs.name!],
              }).y.data
            : got[`n${id}`];
        };
        const ops = graph.nodes.filter((n) => n.op !== "input");
        expect(ops.length).toBeGreaterThanOrEqual(2);
        for (const n of ops) {
          const ins = n.inputs.map(values);
          const why = skipReason(n, ins);
          if (why) {
            tally.skipped++;
            if (!expectedSkip(graph, n, why)) tally.unexpected.push(`%${n.id} ${n.op}: ${why}\n${printGraph(graph)}`);
            continue;
          }
          tally.checked++;
          const local = singleOp(
            n.op,
            n.inputs.map((i) => graph.nodes[i]),
            n.attrs,
          );
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
    expect(tally.unexpected).toEqual([]);
    expect(tally.checked / (tally.checked + tally.skipped)).toBeGreaterThanOrEqual(share);
  });
});
