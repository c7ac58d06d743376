// families.ts: which kernels compute a node of the schedule. A node belongs to one kernel family — a
// fused elementwise group, a matmul with its epilogue, a reduction with its prologue, an AdamW group,
// or the family of its op's kind — and FAMILIES maps each family to the function building its kernels.
// The bindings are the scheduler's value ids (schedule.ts); buffers are not known yet.
import { adamwFamily } from "./adamw-family.js";
import type { FusedGroup, FusionPlan, RowGroup } from "./fuse.js";
import type { Graph, Node } from "./ir.js";
import { LimitError, type DeviceLimits } from "./limits.js";
import type { InPlaceOptimizer } from "./passes/optimizer.js";
import { opSpec } from "./ops/index.js";
import { prod } from "./shape.js";
import type { Binding, KernelSource } from "./wgsl/common.js";
import { chainKernel } from "./wgsl/chain.js";
import { GroupEmitter, fusedKernel } from "./wgsl/fused.js";
import { gatherKernel, scatterAddKernel } from "./wgsl/gather.js";
import { type MatmulChoice, type MatmulSpec, matmulKernel } from "./wgsl/matmul.js";
import { type Strided, contiguous, matmulLayouts, permutedLayout, storedView } from "./strided.js";
import { VIEW_OPS } from "./fuse.js";
import { attentionKernel } from "./wgsl/attention.js";
import { movementKernels } from "./wgsl/movement.js";
import { reduceKernel } from "./wgsl/reduce.js";
import { rowBase, rowGroupKernel, rowGroupStages } from "./wgsl/row-group.js";
import { writeRowsKernel } from "./wgsl/rows.js";
import { sumSquaresKernel } from "./wgsl/optim.js";
import { bindingSlots } from "./wgsl/windows.js";
import { bug } from "../base/errors.js";

/** One dispatch of a node: its kernel and the values it reads and writes. `bindings`: the values in
 *  the kernel's binding order when that is not its reads then its writes; `group`: the fused group it
 *  runs, whose store may go in place (in-place.ts). */
export interface Emitted {
  readonly kernel: KernelSource;
  readonly reads: number[];
  readonly writes: number[];
  readonly bindings?: number[];
  readonly group?: FusedGroup;
}

/** What the families read: the graph and its plans, and the value each node's result lives in. */
export interface FamilyContext {
  readonly graph: Graph;
  readonly byId: ReadonlyMap<number, Node>;
  readonly plan: FusionPlan;
  readonly choices: ReadonlyMap<number, MatmulChoice>;
  readonly limits: DeviceLimits;
  /** node → the value holding its result */
  readonly valueOf: ReadonlyMap<number, number>;
  /** write_rows nodes that write into their destination's buffer (ops/rows.ts) */
  readonly inPlace: ReadonlySet<number>;
  readonly optimizer: InPlaceOptimizer;
  /** in-place adamw nodes by dispatch, keyed by each dispatch's first node (adamw-family.ts) */
  readonly adamw: ReadonlyMap<number, readonly Node[]>;
  /** root of an epilogue group → the matmul that runs in its place */
  readonly epilogueAt: ReadonlyMap<number, number>;
  readonly attentionRows?: number;
}

type KernelKind = "movement" | "reduce" | "matmul" | "gather" | "scatter" | "attention" | "optimizer";
export type Family =
  | "adamw"
  | "matmul-epilogue"
  | "matmul-permuted"
  | "matmul-chain"
  | "fused"
  | "reduce-prologue"
  | "rows"
  | KernelKind;

/** A kernel and the nodes whose values it binds before its outputs. */
interface Made {
  readonly kernel: KernelSource;
  readonly inputs: readonly number[];
}

const value = (c: FamilyContext, id: number): number => c.valueOf.get(id)!;
const inputsOf = (n: Node, c: FamilyContext): Node[] => n.inputs.map((i) => c.byId.get(i)!);

/** Dispatches of `n` reading `made`'s inputs and writing n's value — or, for a fused group, its stores. */
function plain(n: Node, c: FamilyContext, made: readonly Made[], group?: FusedGroup): Emitted[] {
  const stored = c.plan.groups.get(n.id);
  const writes = stored ? stored.stores.map((x) => x.id) : [value(c, n.id)];
  return made.map(({ kernel, inputs }) => ({ kernel, reads: inputs.map((i) => value(c, i)), writes, group }));
}

/** One kernel over all of `n`'s inputs. */
const whole = (n: Node, c: FamilyContext, kernel: KernelSource): Emitted[] =>
  plain(n, c, [{ kernel, inputs: n.inputs }]);

/** For each input of `n` that is a view inlined into it (fuse-views.ts), the stored value it reads and
 *  through which strides; undefined for an input read as it is. */
function storedInputs(n: Node, c: FamilyContext): ({ source: Node; view: Strided } | undefined)[] {
  const viewed = (id: number): boolean => c.plan.inlined.has(id) && VIEW_OPS.has(c.byId.get(id)!.op);
  return n.inputs.map((id) => {
    if (!viewed(id)) return undefined;
    const s = storedView(id, c.byId, viewed);
    if (!s) bug(`${n.op} %${n.id} reads a view that no strides describe; fuse-views.ts inlined it`);
    return s;
  });
}

/** Matmul `mm`'s kernel spec and the values its A and B bindings read: an operand that is a view
 *  inlined into it binds the stored value below and reads it through strides. */
function matmulSpec(mm: Node, c: FamilyContext): { spec: MatmulSpec; sources: [number, number] } {
  const [a, b] = inputsOf(mm, c);
  const spec: MatmulSpec = { a, b, out: mm, transA: !!mm.attrs.transA, transB: !!mm.attrs.transB };
  const [sa, sb] = storedInputs(mm, c);
  if (!sa && !sb) return { spec, sources: [a.id, b.id] };
  const layouts = matmulLayouts(mm, a, b, sa?.view ?? contiguous(a.shape), sb?.view ?? contiguous(b.shape));
  if (!layouts) bug(`matmul %${mm.id} reads a view its kernel cannot; fuse-views.ts inlined it`);
  const [aLayout, bLayout] = layouts;
  const strided = { ...spec, ...(sa ? { aLayout } : {}), ...(sb ? { bLayout } : {}) };
  return { spec: strided, sources: [sa?.source.id ?? a.id, sb?.source.id ?? b.id] };
}

/** A chain's row prologue (fuse-chains.ts): row `o` of `rg` for the block's row `lr`, storing `stores`,
 *  and handing the first matmul's A to workgroup memory `xs` (rounded as an f16 store would round it). */
function rowPrologue(
  rg: RowGroup,
  first: Node,
  stores: readonly Node[],
  shared: Map<number, Binding>,
  c: FamilyContext,
): { code: string; stores: Binding[]; helpers: Set<string> } {
  const a = c.byId.get(first.inputs[0])!;
  const k = a.shape.at(-1)!;
  const outs = new Map(
    stores.map((n, i) => [n.id, { name: `r${i}`, dtype: n.dtype, access: "read_write" } as Binding]),
  );
  const helpers = new Set<string>();
  const held = (v: string): string => (a.dtype === "f16" ? `round_f16(${v})` : v);
  if (a.dtype === "f16") helpers.add("round_f16");
  const stages = rowGroupStages(rg, c.byId, c.plan.inlined, {
    bindings: shared,
    outs,
    helpers,
    prefix: "x",
    also: { id: a.id, lines: (v) => [`xs[lr * ${k} + j] = ${held(v)};`] },
    storeIf: `row0 + lr < ${prod(a.shape.slice(0, -1))}`,
  });
  return { code: [rowBase(rg), ...stages].join("\n    "), stores: [...outs.values()], helpers };
}

export const FAMILIES: Record<Family, (n: Node, c: FamilyContext) => Emitted[]> = {
  adamw: adamwFamily,
  // a matmul whose results an elementwise group finishes before the store, run where the group's root would
  "matmul-epilogue": (root, c) => {
    const mm = c.byId.get(c.epilogueAt.get(root.id)!)!;
    const epilogue = new GroupEmitter(c.plan.epilogues.get(mm.id)!, c.byId, c.plan.inlined, new Set([mm.id]));
    const { spec, sources } = matmulSpec(mm, c);
    const kernel = matmulKernel({ ...spec, epilogue }, c.limits, c.choices.get(mm.id));
    const reads = [...sources, ...epilogue.boundReads.map((r) => r.id)].map((i) => value(c, i));
    return [{ kernel, reads, writes: epilogue.group.stores.map((x) => value(c, x.id)) }];
  },
  // a matmul storing its result permuted, as the permute reading it, run where that permute would
  "matmul-permuted": (u, c) => {
    const mm = c.byId.get(c.plan.permutedStores.get(u.id)!)!;
    const { spec, sources } = matmulSpec(mm, c);
    const cLayout = permutedLayout(mm, spec.a, spec.b, u.attrs.perm ?? [], u.shape);
    if (!cLayout) bug(`matmul %${mm.id} cannot store permuted as %${u.id}; fuse-views.ts planned it`);
    const kernel = matmulKernel({ ...spec, cLayout }, c.limits, c.choices.get(mm.id));
    return [{ kernel, reads: sources.map((i) => value(c, i)), writes: [value(c, u.id)] }];
  },
  // two matmuls back to back (fuse-chains.ts), `at` the second or its epilogue's root; the schedule runs it
  // before the node its plan names
  "matmul-chain": (at, c) => {
    const chain = c.plan.chains.get(at.id)!;
    const [first, second, hidden] = [chain.first, chain.second, chain.hidden].map((id) => c.byId.get(id)!);
    const scope = (prefix: string) => ({ bindings: shared, prefix });
    const shared = new Map<number, Binding>();
    const emitter = (mm: Node, prefix: string): GroupEmitter | undefined => {
      const e = c.plan.epilogues.get(mm.id);
      return e && new GroupEmitter(e, c.byId, c.plan.inlined, new Set([mm.id]), undefined, scope(prefix));
    };
    const [e1, e2] = [emitter(first, "p"), emitter(second, "q")];
    const s1 = matmulSpec(first, c);
    const s2 = matmulSpec(second, c);
    const keep = chain.keep.map((id) => c.byId.get(id)!);
    const rg = chain.prologue;
    const proStores = (rg?.stores ?? []).filter((x) => c.valueOf.get(x.id) === x.id);
    const prologue = rg && rowPrologue(rg, first, proStores, shared, c);
    const spec = { first: { ...s1.spec, epilogue: e1 }, second: { ...s2.spec, epilogue: e2 }, hidden, keep, prologue };
    const kernel = chainKernel(spec, [...shared.values()], c.limits);
    const a = rg ? [] : [s1.sources[0]];
    const reads = [...a, s1.sources[1], s2.sources[1], ...shared.keys()].map((i) => value(c, i));
    const outs = e2 ? e2.group.stores : [second];
    return [{ kernel, reads, writes: [...outs, ...keep, ...proStores].map((x) => value(c, x.id)) }];
  },
  fused: (n, c) => {
    const group = c.plan.groups.get(n.id)!;
    const kernel = fusedKernel(group, c.byId, c.plan.inlined, c.limits);
    return plain(n, c, [{ kernel, inputs: group.reads.map((r) => r.id) }], group);
  },
  // a reduction computing an elementwise group of its input as it reads it
  "reduce-prologue": (n, c) => {
    const prologue = c.plan.prologues.get(n.id)!;
    const emitter = new GroupEmitter(prologue, c.byId, c.plan.inlined);
    const kernel = reduceKernel(n, c.byId.get(n.inputs[0])!, c.limits, emitter);
    return plain(n, c, [{ kernel, inputs: prologue.reads.map((r) => r.id) }]);
  },
  // reductions and the elementwise work over the same rows (fuse-rows.ts), run where the last would
  rows: (n, c) => {
    const rg = c.plan.rows.get(n.id)!;
    const { kernel, inputs } = rowGroupKernel(rg, c.byId, c.plan.inlined, c.limits);
    return [{ kernel, reads: inputs.map((i) => value(c, i)), writes: rg.stores.map((x) => value(c, x.id)) }];
  },
  movement: (n, c) => {
    const ins = inputsOf(n, c);
    // a concat's or pad's inputs may be views inlined into it (fuse-views.ts): it binds what they view
    const stored = storedInputs(n, c);
    const { kernels, inputGroups } = movementKernels(n, ins, c.limits, stored);
    const bound = ins.map((x, i) => stored[i]?.source.id ?? x.id);
    return plain(
      n,
      c,
      kernels.map((kernel, i) => ({ kernel, inputs: inputGroups[i].map((k) => bound[k]) })),
    );
  },
  reduce: (n, c) => whole(n, c, reduceKernel(n, c.byId.get(n.inputs[0])!, c.limits)),
  matmul: (n, c) => {
    const { spec, sources } = matmulSpec(n, c);
    return plain(n, c, [{ kernel: matmulKernel(spec, c.limits, c.choices.get(n.id)), inputs: sources }]);
  },
  gather: (n, c) => {
    const [table, index] = inputsOf(n, c);
    return whole(n, c, gatherKernel(n, table, index, c.limits));
  },
  scatter: (n, c) => {
    const ins = inputsOf(n, c);
    if (n.op !== "write_rows") return whole(n, c, scatterAddKernel(n, ins[0], ins[1], c.limits));
    const inPlace = c.inPlace.has(n.id);
    const kernel = writeRowsKernel(n, ins[0], ins[1], ins[2], c.limits, inPlace);
    return plain(n, c, [{ kernel, inputs: inPlace ? n.inputs.slice(1) : n.inputs }]);
  },
  attention: (n, c) => whole(n, c, attentionKernel(n, inputsOf(n, c), c.limits, c.attentionRows)),
  optimizer: (n, c) => {
    if (n.op !== "sum_squares") {
      bug(`${n.op} %${n.id} reached codegen; passes/optimizer.ts places it in place or lowers it`);
    }
    // as many inputs per dispatch as a stage binds (one binding each, or one per window past the binding
    // size), beside the output; each writes its part of it
    const budget = c.limits.maxStorageBuffersPerShaderStage - bindingSlots([n], c.limits);
    const parts: Node[][] = [];
    for (const x of inputsOf(n, c)) {
      const last = parts.at(-1);
      if (last && bindingSlots([...last, x], c.limits) <= budget) last.push(x);
      else parts.push([x]);
    }
    let first = 0;
    return plain(
      n,
      c,
      parts.map((xs) => {
        const kernel = sumSquaresKernel(xs, first);
        first += xs.length;
        return { kernel, inputs: xs.map((x) => x.id) };
      }),
    );
  },
};

/** The family whose kernels compute `n`, or undefined when `n` needs no dispatch of its own (a source,
 *  an empty tensor, a value computed inside another kernel or sharing another's buffer). */
export function familyOf(n: Node, c: FamilyContext): Family | undefined {
  if (c.optimizer.nodes.has(n.id)) return "adamw";
  const kind = opSpec(n.op).kind;
  if (kind === "source" || prod(n.shape) === 0) return undefined;
  if (n.dtype === "f16" && !c.limits.shaderF16) {
    throw new LimitError(
      "f16 needs adapter feature 'shader-f16', which this adapter lacks; store values in f32 (--set precision=f32)",
    );
  }
  const { plan } = c;
  if (plan.inlined.has(n.id) || plan.epilogues.has(n.id) || plan.computedBy.has(n.id)) return undefined;
  if (plan.permutedStores.has(n.id)) return "matmul-permuted";
  // a matmul storing into its permute's value has no value of its own (schedule.ts): none below either
  if (c.valueOf.get(n.id) !== n.id && !c.inPlace.has(n.id)) return undefined;
  if (plan.chains.has(n.id)) return undefined; // a chain's kernel computes it, run before chain.before
  if (c.epilogueAt.has(n.id)) return "matmul-epilogue";
  if (plan.rows.has(n.id)) return "rows";
  if (plan.groups.has(n.id)) return "fused";
  if (plan.prologues.has(n.id)) return "reduce-prologue";
  if (kind in FAMILIES) return kind as KernelKind;
  bug(`codegen: ${n.op} (${kind}) has no kernel family; composites are lowered first`);
}
