// schedule.ts: the values of a planned graph and its dispatches in schedule order — graph order, each
// node's dispatches built by its kernel family (families.ts), kernels deduplicated by their code.
// Buffers are not chosen here (allocate.ts): a dispatch reads and writes values.
import { adamwGroups } from "./adamw-family.js";
import { bufferBytes } from "./dtype.js";
import { FAMILIES, type FamilyContext, familyOf } from "./families.js";
import type { FusionPlan } from "./fuse.js";
import type { InPlaceStep } from "./in-place.js";
import { type Graph, type Node, describe, isFed, nodeById } from "./ir.js";
import { LimitError, type DeviceLimits, formatBytes } from "./limits.js";
import { inPlaceWrites } from "./ops/rows.js";
import { inPlaceOptimizer } from "./passes/optimizer.js";
import { prod } from "./shape.js";
import type { KernelSource } from "./wgsl/common.js";
import type { MatmulChoice } from "./wgsl/matmul.js";
import { bug } from "../base/errors.js";

/** A dispatch being planned. `bindings`: value ids in the kernel's binding order, when not its reads
 *  then its writes; `group` and the in-place fields: in-place.ts. */
export interface Step extends InPlaceStep {
  kernel: number;
  readonly reads: number[];
  readonly writes: number[];
  readonly bindings?: number[];
  readonly node: number;
  readonly workgroups: readonly [number, number, number];
}

/** The program's kernels, each once: a kernel whose code is already here is reused. */
export class KernelTable {
  readonly kernels: KernelSource[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly limits: DeviceLimits) {}

  add(kernel: KernelSource): number {
    const limit = this.limits.maxStorageBuffersPerShaderStage;
    if (kernel.bindings.length > limit) {
      throw new LimitError(
        `kernel ${kernel.name} binds ${kernel.bindings.length} storage buffers ` +
          `but this device allows ${limit} per shader stage; ` +
          `it needs an adapter with more storage buffers per stage (see 'mira doctor')`,
      );
    }
    let k = this.index.get(kernel.code);
    if (k === undefined) {
      k = this.kernels.length;
      this.kernels.push(kernel);
      this.index.set(kernel.code, k);
    }
    return k;
  }
}

export interface Scheduled {
  readonly graph: Graph;
  readonly plan: FusionPlan;
  readonly choices: ReadonlyMap<number, MatmulChoice>;
}

export interface Schedule {
  readonly graph: Graph;
  readonly byId: ReadonlyMap<number, Node>;
  readonly plan: FusionPlan;
  /** materialized nodes, each a value of its own */
  readonly values: readonly Node[];
  /** node → the value holding its result */
  readonly valueOf: ReadonlyMap<number, number>;
  /** temporaries that hold an output (a reshape of them): kept to the end like outputs */
  readonly keptToEnd: ReadonlySet<number>;
  readonly steps: Step[];
  readonly kernels: KernelTable;
}

export interface ScheduleOptions {
  readonly updates: Readonly<Record<string, string>>;
  readonly attentionRows?: number;
}

export function schedule(s: Scheduled, limits: DeviceLimits, o: ScheduleOptions): Schedule {
  const { graph: g, plan } = s;
  const byId = nodeById(g);
  const optimizer = inPlaceOptimizer(g, o.updates);
  if (!optimizer) bug("the adamw nodes could be written in place before matmul tuning, but not after");
  const inPlace = inPlaceWrites(g); // write_rows into a param's own buffer (ops/rows.ts)
  const { values, valueOf, keptToEnd } = valuesOf(g, plan, optimizer.aliases, optimizer.nodes, inPlace, limits);

  // A matmul with an epilogue runs where its group's root would.
  const epilogueAt = new Map<number, number>();
  for (const [m, group] of plan.epilogues) epilogueAt.set(group.root.id, m);
  const c: FamilyContext = {
    graph: g,
    byId,
    plan,
    choices: s.choices,
    limits,
    valueOf,
    inPlace,
    optimizer,
    adamw: adamwGroups(g, optimizer, limits),
    epilogueAt,
    attentionRows: o.attentionRows,
  };
  const kernels = new KernelTable(limits);
  const steps: Step[] = [];
  // a matmul chain's kernel runs before the node its plan names (fuse-chains.ts), as its `at` node
  const chainsBefore = new Map<number, Node[]>();
  for (const [at, chain] of plan.chains)
    chainsBefore.set(chain.before, [...(chainsBefore.get(chain.before) ?? []), byId.get(at)!]);
  for (const n of g.nodes) {
    const family = familyOf(n, c);
    const made = (chainsBefore.get(n.id) ?? []).map((at) => [at, FAMILIES["matmul-chain"](at, c)] as const);
    if (family) made.push([n, FAMILIES[family](n, c)]);
    for (const [node, emitted] of made)
      for (const e of emitted) {
        const { reads, writes, group } = e;
        const k = kernels.add(e.kernel);
        const step: Step = { kernel: k, reads, writes, node: node.id, workgroups: e.kernel.workgroups, group };
        steps.push(e.bindings ? { ...step, bindings: e.bindings } : step);
      }
  }
  return { graph: g, byId, plan, values, valueOf, keptToEnd, steps, kernels };
}

/** Each materialized node's result is a value. A reshape of a materialized value is the same bytes and
 *  shares its value (no copy) — unless it is an output, read after state updates rewrite inputs. */
function valuesOf(
  g: Graph,
  plan: FusionPlan,
  aliases: ReadonlyMap<number, number>,
  adamw: ReadonlyMap<number, readonly number[]>,
  inPlace: ReadonlySet<number>,
  limits: DeviceLimits,
): { values: Node[]; valueOf: Map<number, number>; keptToEnd: Set<number> } {
  const outputIds = new Set(g.outputs.map((o) => o.id));
  const valueOf = new Map<number, number>();
  const values: Node[] = [];
  const keptToEnd = new Set<number>();
  const byId = nodeById(g);
  const storedPermuted = new Set(plan.permutedStores.values()); // matmuls storing into a permute's value
  const readers = new Map<number, number>();
  for (const n of g.nodes) for (const i of new Set(n.inputs)) readers.set(i, (readers.get(i) ?? 0) + 1);
  for (const n of g.nodes) {
    // an in-place adamw node and the parts of its result are the params they update (no values)
    const param = aliases.get(n.id) ?? adamw.get(n.id)?.[0];
    if (param !== undefined) {
      valueOf.set(n.id, valueOf.get(param)!);
      continue;
    }
    if (plan.inlined.has(n.id) || plan.epilogues.has(n.id) || storedPermuted.has(n.id)) continue;
    if (inPlace.has(n.id)) {
      valueOf.set(n.id, valueOf.get(n.inputs[0])!);
      continue;
    }
    if (n.op === "reshape" && !outputIds.has(n.id) && valueOf.has(n.inputs[0])) {
      valueOf.set(n.id, valueOf.get(n.inputs[0])!);
      continue;
    }
    // An output reshaping a temporary that nothing else reads: the temporary is computed into the
    // output's buffer (kept to the end like any output) instead of copied there by a kernel of its own.
    const x = n.op === "reshape" ? byId.get(n.inputs[0]) : undefined;
    if (x && valueOf.get(x.id) === x.id && !isFed(x) && !outputIds.has(x.id) && readers.get(x.id) === 1) {
      valueOf.set(n.id, x.id);
      keptToEnd.add(x.id);
      continue;
    }
    checkBufferFits(n, bytesOf(n), limits);
    valueOf.set(n.id, n.id);
    values.push(n);
  }
  return { values, valueOf, keptToEnd };
}

function checkBufferFits(node: Node, bytes: number, limits: DeviceLimits): void {
  // past one binding a buffer is bound as windows (compiler/windows.ts); past one buffer it cannot exist
  if (bytes > limits.maxBufferSize) {
    const most = formatBytes(limits.maxBufferSize);
    throw new LimitError(
      `tensor %${node.id} ${describe(node)} (${node.op}${node.attrs.name ? ` '${node.attrs.name}'` : ""}) ` +
        `needs ${formatBytes(bytes)}, but a buffer on this device holds at most ${most}; ` +
        "lower the batch size or the model width (--set), or split this tensor",
    );
  }
}

/** A value's buffer size: its bytes padded to a multiple of 4, at least 4. */
export const bytesOf = (n: Node): number => bufferBytes(n.dtype, prod(n.shape));
