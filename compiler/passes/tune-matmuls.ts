// tune-matmuls.ts: the configuration each matmul of a lowered graph compiles with — a variant forced by
// the caller, else the tuning table's entry for its signature, else the adapter's default — with the
// split-K rewrites the table asks for applied (passes/split-k.ts) and fusion planned on the result.
// The signature's epilogue flag comes from the fusion plan, so the plan is made first (the pipeline's
// plan-fusion pass); it is made again only when a split changed the graph.
import {
  type MatmulConfig,
  type MatmulSignature,
  type TuningTable,
  defaultConfig,
  lookupMatmul,
  normalize,
  signatureKey,
  signatureOf,
} from "../autotune.js";
import { type FusionPlan, planFusion } from "../fuse.js";
import { type Graph, type Node, nodeById } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import type { MatmulChoice, MatmulVariant } from "../wgsl/matmul.js";
import { splitK } from "./split-k.js";

/** One matmul of the source graph, as compiled: reported by Program.matmuls, read by the autotuner. */
export interface MatmulRecord {
  readonly signature: string; // autotune.signatureKey
  readonly config: MatmulConfig;
  /** the configuration came from the tuning table */
  readonly tuned: boolean;
}

export interface TunedGraph {
  readonly graph: Graph;
  readonly plan: FusionPlan;
  /** kernel choice per matmul node of `graph` */
  readonly choices: ReadonlyMap<number, MatmulChoice>;
  readonly records: readonly MatmulRecord[];
}

export interface TuneOptions {
  readonly fuse: boolean;
  readonly matmul?: MatmulVariant;
  readonly tuning?: TuningTable;
}

/** `plan`: the fusion plan of `g`. */
export function tuneMatmuls(g: Graph, plan: FusionPlan, limits: DeviceLimits, o: TuneOptions): TunedGraph {
  const byId = nodeById(g);
  const picked = new Map<number, MatmulRecord>();
  for (const n of g.nodes) {
    if (n.op !== "matmul") continue;
    const sig: MatmulSignature = signatureOf(
      n,
      byId.get(n.inputs[0])!,
      byId.get(n.inputs[1])!,
      plan.epilogues.has(n.id),
    );
    // A variant the caller forces (tests, A/B benchmarks) wins over the table.
    const tuned = o.matmul ? undefined : lookupMatmul(o.tuning, sig, limits);
    const config = tuned ?? (o.matmul ? normalize({ variant: o.matmul }) : defaultConfig(limits, sig));
    picked.set(n.id, { signature: signatureKey(sig), config, tuned: !!tuned });
  }
  const records = [...picked.values()];
  const splits = new Map(
    [...picked].filter(([, r]) => (r.config.splitK ?? 1) > 1).map(([id, r]) => [id, r.config.splitK!]),
  );
  if (splits.size === 0)
    return { graph: g, plan, choices: new Map([...picked].map(([id, r]) => [id, r.config])), records };
  const split = splitK(g, splits);
  const choices = new Map<number, MatmulChoice>();
  for (const [id, r] of picked) choices.set((split.partials.get(id) ?? (split.map.get(id) as Node)).id, r.config);
  return { graph: split.graph, plan: planFusion(split.graph, limits, o.fuse), choices, records };
}
