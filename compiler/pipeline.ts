// pipeline.ts: the graph passes compileGraph runs before scheduling, in order, each a name and a
// function of the state so far. The state is the graph plus what later passes and the scheduler read
// about it (the fusion plan, each matmul's configuration). `mira compile --emit report` lists the passes
// with the node count each leaves (report-passes.ts).
import type { FusionPlan } from "./fuse.js";
import { planFusion } from "./fuse.js";
import { type Graph, pruneGraph } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { planRows } from "./fuse-rows.js";
import { planChains } from "./fuse-chains.js";
import { lowerComposites } from "./passes/lower-composites.js";
import { simplify } from "./passes/simplify.js";
import { joinSumsOfProducts } from "./passes/sum-of-products.js";
import { joinSharedOperands } from "./passes/shared-operand.js";
import { placeOptimizer } from "./passes/optimizer.js";
import { type TunedGraph, tuneMatmuls } from "./passes/tune-matmuls.js";
import type { CompileOptions } from "./program.js";
import { adamwPerDispatch } from "./wgsl/optim.js";
import { bug } from "../base/errors.js";

export interface PassState {
  readonly graph: Graph;
  /** fusion groups, inlined values and matmul epilogues of `graph` (plan-fusion on) */
  readonly plan?: FusionPlan;
  /** each matmul's kernel configuration (tune-matmuls on) */
  readonly matmuls?: Pick<TunedGraph, "choices" | "records">;
}

export interface PassContext {
  readonly limits: DeviceLimits;
  readonly opts: CompileOptions;
}

export interface Pass {
  readonly name: string;
  readonly run: (s: PassState, c: PassContext) => PassState;
}

/** A pass as it ran: the nodes of the graph it left. */
export interface PassLog {
  readonly name: string;
  readonly nodes: number;
}

const fuses = (c: PassContext): boolean => c.opts.fuse ?? true;
const maxBindingBytes = (l: DeviceLimits): number => Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);

export const PASSES: readonly Pass[] = [
  // dead code: nodes no output depends on (fed values stay, they are the program's interface)
  { name: "prune", run: (s) => ({ ...s, graph: pruneGraph(s.graph) }) },
  // composites (softmax, layer norm, attention, …) into primitives or flash attention
  {
    name: "lower-composites",
    run: (s, c) => {
      const choice = { attention: c.opts.attention, maxBindingBytes: maxBindingBytes(c.limits) };
      return { ...s, graph: lowerComposites(s.graph, choice) };
    },
  },
  // rewrite rules (passes/simplify.ts) and common subexpressions: a gradient's recomputed forward values;
  // then dead code again, since lowering and merging leave values nothing reads (a mask built for a
  // causal attention that a decode step's own mask replaced)
  { name: "simplify", run: (s) => ({ ...s, graph: pruneGraph(simplify(s.graph)) }) },
  // a sum of matmuls as one matmul of joined operands, where that takes fewer dispatches: a weight's
  // gradient summed over an unrolled scan's steps (passes/sum-of-products.ts)
  {
    name: "join-products",
    run: (s, c) => (fuses(c) ? { ...s, graph: joinSumsOfProducts(s.graph, c.limits) } : s),
  },
  // matmuls reading the same A (q, k and v projections) as one matmul of their B operands joined along N,
  // where that takes fewer dispatches (passes/shared-operand.ts). Not by default under sequence kernels,
  // which run the products in one dispatch anyway and whose runs the join cut worse (TTM step, 32 chunks:
  // 366 → 395 dispatches)
  {
    name: "join-shared-operands",
    run: (s, c) =>
      fuses(c) && (c.opts.sharedOperands ?? !(c.opts.sequence ?? false))
        ? { ...s, graph: joinSharedOperands(s.graph, c.limits, c.opts.chains ?? true) }
        : s,
  },
  // adamw in place, several parameters per dispatch — or lowered to primitives (no fusion, or no room)
  {
    name: "place-optimizer",
    run: (s, c) => {
      const grouped = fuses(c) && adamwPerDispatch(c.limits) > 0;
      return { ...s, graph: placeOptimizer(s.graph, c.opts.updates ?? {}, grouped) };
    },
  },
  // elementwise chains, constants, views and matmul epilogues into kernels (the plan; nothing moves yet)
  { name: "plan-fusion", run: (s, c) => ({ ...s, plan: planFusion(s.graph, c.limits, fuses(c)) }) },
  // each matmul's configuration (forced, tuned or default) and the split-K rewrites it asks for
  {
    name: "tune-matmuls",
    run: (s, c) => {
      if (!s.plan) bug("tune-matmuls reads the fusion plan; plan-fusion runs before it");
      const { matmul, tuning } = c.opts;
      const t = tuneMatmuls(s.graph, s.plan, c.limits, { fuse: fuses(c), matmul, tuning });
      return { graph: t.graph, plan: t.plan, matmuls: { choices: t.choices, records: t.records } };
    },
  },
  // reductions with the elementwise work before and after them over the same rows, one kernel each
  {
    name: "plan-rows",
    run: (s, c) => {
      if (!s.plan) bug("plan-rows reads the fusion plan; plan-fusion runs before it");
      return { ...s, plan: planRows(s.graph, s.plan, c.limits, fuses(c) && (c.opts.rows ?? true)) };
    },
  },
  // a matmul reading another's value (an MLP's two layers, forward or backward) computed with it in one
  // kernel where the hidden block fits a workgroup and is small (fuse-chains.ts)
  {
    name: "plan-chains",
    run: (s, c) => {
      if (!s.plan) bug("plan-chains reads the fusion plan; plan-fusion runs before it");
      return { ...s, plan: planChains(s.graph, s.plan, c.limits, fuses(c) && (c.opts.chains ?? true)) };
    },
  },
];

/** Runs `passes` over `graph` in order, logging the node count each leaves. */
export function runPasses(graph: Graph, c: PassContext, passes = PASSES): { state: PassState; log: PassLog[] } {
  let state: PassState = { graph };
  const log: PassLog[] = [];
  for (const p of passes) {
    state = p.run(state, c);
    log.push({ name: p.name, nodes: state.graph.nodes.length });
  }
  return { state, log };
}
