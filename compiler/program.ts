// program.ts: compiles an IR Graph into a Program — buffers, deduplicated WGSL kernels and a dispatch
// list, all plain data (no GPUDevice here). Device limits are read, not assumed: a tensor too large for
// one binding, or a kernel needing more bindings than a stage allows, stops compilation with the fix.
import { byteSize } from "./dtype.js";
import { type Graph, type Node, describe, isFed, nodeById, pruneGraph } from "./ir.js";
import { type InPlaceStep, proposeInPlace } from "./in-place.js";
import { type MemoryPlan, type PlanStep, type PlanValue, planMemory } from "./plan.js";
import { LimitError, type DeviceLimits, formatBytes } from "./limits.js";
import { opSpec } from "./ops/index.js";
import { inPlaceWrites } from "./ops/rows.js";
import type { AttentionPolicy } from "./passes/choose-attention.js";
import { lowerComposites } from "./passes/lower-composites.js";
import { type InPlaceOptimizer, inPlaceOptimizer, placeOptimizer } from "./passes/optimizer.js";
import { type Shape, prod } from "./shape.js";
import type { DType } from "./dtype.js";
import type { KernelSource } from "./wgsl/common.js";
import { GroupEmitter, fusedKernel } from "./wgsl/fused.js";
import type { FusedGroup } from "./fuse.js";
import { gatherKernel, scatterAddKernel } from "./wgsl/gather.js";
import { type MatmulChoice, type MatmulVariant, matmulKernel } from "./wgsl/matmul.js";
import type { TuningTable } from "./autotune.js";
import { type MatmulRecord, tuneMatmuls } from "./passes/tune-matmuls.js";
import { attentionKernel } from "./wgsl/attention.js";
import { movementKernels } from "./wgsl/movement.js";
import { reduceKernel } from "./wgsl/reduce.js";
import { writeRowsKernel } from "./wgsl/rows.js";
import { adamwKernel, adamwPerDispatch, sumSquaresKernel } from "./wgsl/optim.js";
import { bug } from "../base/errors.js";

export type BufferRole = "input" | "param" | "output" | "temp";

export interface ProgramBuffer {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly bytes: number; // padded to a multiple of 4
  readonly role: BufferRole;
  readonly name?: string;
}

export interface Dispatch {
  readonly kernel: number; // index into Program.kernels
  readonly buffers: readonly number[]; // buffer ids, in the kernel's binding order
  readonly workgroups: readonly [number, number, number];
  readonly node: number; // IR node it computes (for reports and profiles)
}

export interface Tensor {
  readonly name: string;
  readonly buffer: number;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** After the dispatches, buffer `from` (an output) is copied into `to` (a param): state updates. */
export interface BufferUpdate {
  readonly from: number;
  readonly to: number;
}

export interface Program {
  readonly buffers: readonly ProgramBuffer[];
  readonly updates: readonly BufferUpdate[];
  readonly kernels: readonly KernelSource[];
  readonly dispatches: readonly Dispatch[];
  readonly inputs: readonly Tensor[];
  readonly params: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly graph: Graph; // the lowered graph the dispatches compute
  /** the buffer plan and what it was made from, for reports and its validator */
  readonly memory: { readonly plan: MemoryPlan; readonly values: readonly PlanValue[]; readonly steps: readonly PlanStep[] };
  /** each matmul's signature and the configuration it compiled with (tuned or default) */
  readonly matmuls: readonly MatmulRecord[];
}

export interface CompileOptions {
  /** forces a matmul variant for every matmul (tests, A/B benchmarks); wins over `tuning` */
  readonly matmul?: MatmulVariant;
  /** measured matmul configurations for this adapter (compiler/autotune.ts); signatures it lacks get
   *  the default. runtime/autotune-cache.ts loads the table of the current adapter. */
  readonly tuning?: TuningTable;
  /** fuse elementwise chains, constants and views (default true); false is the A/B baseline */
  readonly fuse?: boolean;
  /** share buffers between values whose lifetimes do not overlap (default true) */
  readonly reuseBuffers?: boolean;
  /** output name → param name it overwrites after each run (optimizer steps, carried state) */
  readonly updates?: Readonly<Record<string, string>>;
  /** kernels of attention nodes whose path was not fixed when a gradient was built: by score size
   *  ("auto", the default), or forced (passes/choose-attention.ts) */
  readonly attention?: AttentionPolicy;
  /** rows per invocation of the flash-attention kernels (default: by problem size, wgsl/attention.ts) */
  readonly attentionRows?: 1 | 2 | 4 | 8;
}

function kernelsFor(node: Node, ins: readonly Node[], limits: DeviceLimits, matmuls: ReadonlyMap<number, MatmulChoice>, inPlace: boolean, attentionRows?: number): { kernel: KernelSource; inputs: number[] }[] {
  const spec = opSpec(node.op);
  const all = ins.map((n) => n.id);
  switch (spec.kind) {
    case "movement": {
      const { kernels, inputGroups } = movementKernels(node, ins, limits);
      return kernels.map((kernel, i) => ({ kernel, inputs: inputGroups[i].map((k) => ins[k].id) }));
    }
    case "reduce":
      return [{ kernel: reduceKernel(node, ins[0], limits), inputs: all }];
    case "matmul":
      return [{ kernel: matmulKernel({ a: ins[0], b: ins[1], out: node, transA: !!node.attrs.transA, transB: !!node.attrs.transB }, limits, matmuls.get(node.id)), inputs: all }];
    case "gather":
      return [{ kernel: gatherKernel(node, ins[0], ins[1], limits), inputs: all }];
    case "scatter":
      if (node.op === "write_rows") return [{ kernel: writeRowsKernel(node, ins[0], ins[1], ins[2], limits, inPlace), inputs: inPlace ? all.slice(1) : all }];
      return [{ kernel: scatterAddKernel(node, ins[0], ins[1], limits), inputs: all }];
    case "attention":
      return [{ kernel: attentionKernel(node, ins, limits, attentionRows), inputs: all }];
    case "optimizer": {
      if (node.op !== "sum_squares") bug(`${node.op} %${node.id} reached codegen; passes/optimizer.ts places it in place or lowers it`);
      // as many inputs per dispatch as a stage binds, beside the output; each writes its part of it
      const per = limits.maxStorageBuffersPerShaderStage - 1;
      return chunks(ins, per).map((xs, k) => ({ kernel: sumSquaresKernel(xs, k * per), inputs: xs.map((x) => x.id) }));
    }
    default:
      bug(`codegen: ${node.op} (${spec.kind}) has no kernel family; composites are lowered first`);
  }
}

const chunks = <T>(xs: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(xs.length / size) }, (_, k) => xs.slice(k * size, (k + 1) * size));

/**
 * The in-place adamw nodes (passes/optimizer.ts) in dispatches: consecutive nodes with the same
 * constants and scalar inputs, as many per dispatch as a stage binds. Empty parameters need none.
 * Returns the groups by their first node.
 */
function adamwGroups(g: Graph, opt: InPlaceOptimizer, limits: DeviceLimits): Map<number, Node[]> {
  const per = adamwPerDispatch(limits);
  const key = (n: Node): string => JSON.stringify([n.inputs.slice(4), n.attrs.adamw!.beta1, n.attrs.adamw!.beta2, n.attrs.adamw!.clipNorm]);
  const groups = new Map<number, Node[]>();
  let current: Node[] | undefined;
  for (const n of g.nodes) {
    if (!opt.nodes.has(n.id) || prod(n.shape) === 0) continue;
    if (!current || current.length === per || key(current[0]) !== key(n)) groups.set(n.id, (current = []));
    current.push(n);
  }
  return groups;
}

function matmulWithEpilogue(mm: Node, group: FusedGroup, byId: ReadonlyMap<number, Node>, inlined: ReadonlySet<number>, limits: DeviceLimits, matmuls: ReadonlyMap<number, MatmulChoice>): { kernel: KernelSource; inputs: number[] } {
  const epilogue = new GroupEmitter(group, byId, inlined, new Set([mm.id]));
  const [a, b] = mm.inputs.map((i) => byId.get(i)!);
  const kernel = matmulKernel({ a, b, out: mm, transA: !!mm.attrs.transA, transB: !!mm.attrs.transB, epilogue }, limits, matmuls.get(mm.id));
  return { kernel, inputs: [a.id, b.id, ...epilogue.boundReads.map((r) => r.id)] };
}

function checkBufferFits(node: Node, bytes: number, limits: DeviceLimits): void {
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (bytes > cap) {
    throw new LimitError(
      `tensor %${node.id} ${describe(node)} (${node.op}${node.attrs.name ? ` '${node.attrs.name}'` : ""}) needs ${formatBytes(bytes)}, ` +
        `but this device binds at most ${formatBytes(cap)} per buffer; lower the batch size or the model width (--set), or split this tensor`,
    );
  }
}

export function compileGraph(graph: Graph, limits: DeviceLimits, opts: CompileOptions = {}): Program {
  const updateMap = opts.updates ?? {};
  const composed = lowerComposites(pruneGraph(graph), { attention: opts.attention, maxBindingBytes: Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) });
  // adamw in place, several parameters per dispatch — or lowered to primitives (no fusion, or no room)
  const lowered = placeOptimizer(composed, updateMap, (opts.fuse ?? true) && adamwPerDispatch(limits) > 0);
  // Matmul configurations (forced, tuned or default) and any split-K rewrite they ask for, then fusion.
  const { graph: g, plan, choices, records: matmuls } = tuneMatmuls(lowered, limits, { fuse: opts.fuse ?? true, matmul: opts.matmul, tuning: opts.tuning });
  const byId = nodeById(g);
  const outputIds = new Set(g.outputs.map((o) => o.id));
  const optimizer = inPlaceOptimizer(g, updateMap);
  if (!optimizer) bug("the adamw nodes could be written in place before matmul tuning, but not after");

  // 1. Values: each materialized node's result. A reshape of a materialized value is the same bytes and
  //    shares its value (no copy) — unless it is an output, read after state updates rewrite inputs.
  const valueOf = new Map<number, number>();
  const values: Node[] = [];
  const inPlace = inPlaceWrites(g); // write_rows into a param's own buffer (ops/rows.ts)
  for (const n of g.nodes) {
    // an in-place adamw node and the parts of its result are the params they update (no values)
    const param = optimizer.aliases.get(n.id) ?? optimizer.nodes.get(n.id)?.[0];
    if (param !== undefined) {
      valueOf.set(n.id, valueOf.get(param)!);
      continue;
    }
    if (plan.inlined.has(n.id) || plan.epilogues.has(n.id)) continue;
    if (inPlace.has(n.id)) {
      valueOf.set(n.id, valueOf.get(n.inputs[0])!);
      continue;
    }
    if (n.op === "reshape" && !outputIds.has(n.id) && valueOf.has(n.inputs[0])) {
      valueOf.set(n.id, valueOf.get(n.inputs[0])!);
      continue;
    }
    checkBufferFits(n, bytesOf(n), limits);
    valueOf.set(n.id, n.id);
    values.push(n);
  }

  // 2. Kernels in schedule order. A matmul with an epilogue runs where its group's root would.
  const epilogueAt = new Map<number, number>();
  for (const [m, group] of plan.epilogues) epilogueAt.set(group.root.id, m);
  const kernels: KernelSource[] = [];
  const kernelIndex = new Map<string, number>();
  const steps: Step[] = [];
  const addKernel = (kernel: KernelSource): number => {
    if (kernel.bindings.length > limits.maxStorageBuffersPerShaderStage) {
      throw new LimitError(
        `kernel ${kernel.name} binds ${kernel.bindings.length} storage buffers but this device allows ${limits.maxStorageBuffersPerShaderStage} per shader stage; ` +
          `it needs an adapter with more storage buffers per stage (see 'mira doctor')`,
      );
    }
    let k = kernelIndex.get(kernel.code);
    if (k === undefined) {
      k = kernels.length;
      kernels.push(kernel);
      kernelIndex.set(kernel.code, k);
    }
    return k;
  };
  const adamw = adamwGroups(g, optimizer, limits);
  for (const n of g.nodes) {
    const members = adamw.get(n.id);
    if (members) {
      // p, m, v read and written in place, g read: the params keep their own buffers (persistent)
      const kernel = adamwKernel(members.map((a) => ({ param: byId.get(a.inputs[0])!, grad: byId.get(a.inputs[3])!, decays: a.attrs.adamw!.decays })), n.attrs.adamw!, limits);
      const bindings = [...n.inputs.slice(4), ...members.flatMap((a) => [...a.inputs.slice(0, 4)])].map((i) => valueOf.get(i)!);
      const writes = members.flatMap((a) => a.inputs.slice(0, 3)).map((i) => valueOf.get(i)!);
      steps.push({ kernel: addKernel(kernel), reads: bindings.filter((b) => !writes.includes(b)), writes, bindings, node: n.id, workgroups: kernel.workgroups });
      continue;
    }
    if (optimizer.nodes.has(n.id)) continue; // computed by its group's dispatch
    if (opSpec(n.op).kind === "source" || prod(n.shape) === 0) continue; // an empty tensor needs no kernel
    if (n.dtype === "f16" && !limits.shaderF16) throw new LimitError(`f16 needs adapter feature 'shader-f16', which this adapter lacks; use f32 (--set dtype=f32)`);
    if (plan.inlined.has(n.id) || plan.epilogues.has(n.id) || plan.computedBy.has(n.id) || (valueOf.get(n.id) !== n.id && !inPlace.has(n.id))) continue;
    const group = plan.groups.get(n.id);
    const prologue = plan.prologues.get(n.id);
    const mm = epilogueAt.get(n.id);
    const made = mm !== undefined
      ? [matmulWithEpilogue(byId.get(mm)!, plan.epilogues.get(mm)!, byId, plan.inlined, limits, choices)]
      : group
        ? [{ kernel: fusedKernel(group, byId, plan.inlined, limits), inputs: group.reads.map((r) => r.id) }]
        : prologue
          ? [{ kernel: reduceKernel(n, byId.get(n.inputs[0])!, limits, new GroupEmitter(prologue, byId, plan.inlined)), inputs: prologue.reads.map((r) => r.id) }]
          : kernelsFor(n, n.inputs.map((i) => byId.get(i)!), limits, choices, inPlace.has(n.id), opts.attentionRows);
    for (const { kernel, inputs } of made) {
      const k = addKernel(kernel);
      const writes = group ? group.stores.map((x) => x.id) : [valueOf.get(n.id)!];
      steps.push({ kernel: k, reads: inputs.map((i) => valueOf.get(i)!), writes, node: n.id, workgroups: kernel.workgroups, group: mm === undefined ? group : undefined });
    }
  }

  // 3. Buffers: values whose lifetimes do not overlap share one (planMemory); fed values and outputs
  //    keep their own. `reuse: false` is the one-buffer-per-value baseline.
  //    An elementwise kernel may store into a read that dies at its step (in-place.ts): the plan decides.
  const persistent = (n: Node): boolean => isFed(n) || outputIds.has(n.id);
  const planValues = values.map((n) => ({ id: n.id, bytes: bytesOf(n), persistent: persistent(n) }));
  proposeInPlace(steps, planValues, valueOf, byId, plan.inlined);
  const memory = planMemory(planValues, steps, opts.reuseBuffers ?? true);
  for (const s of memory.inPlaceSteps) {
    // the kernel loads the overwritten read through its output binding (WebGPU forbids binding one
    // buffer twice when one binding is writable), so that read leaves its bindings
    const st = steps[s];
    const kernel = fusedKernel(st.group!, byId, plan.inlined, limits, st.inPlaceNode);
    steps[s] = { ...st, kernel: addKernel(kernel), bindings: [...st.reads.filter((r) => r !== st.inPlace), ...st.writes] };
  }
  const used = compactKernels(kernels, steps);
  const buffers: ProgramBuffer[] = memory.slots.map((bytes, slot) => {
    const first = byId.get(memory.residents[slot][0])!;
    const role: BufferRole = first.op === "input" ? "input" : first.op === "param" ? "param" : outputIds.has(first.id) ? "output" : "temp";
    return { id: slot, dtype: first.dtype, shape: first.shape, bytes, role, name: persistent(first) ? first.attrs.name : undefined };
  });
  const bufferOf = (nodeId: number): number => memory.slotOf.get(valueOf.get(nodeId)!)!;
  const dispatches: Dispatch[] = steps.map((st) => ({ kernel: st.kernel, buffers: (st.bindings ?? [...st.reads, ...st.writes]).map((v) => memory.slotOf.get(v)!), workgroups: st.workgroups, node: st.node }));

  const tensor = (n: Node, name: string): Tensor => ({ name, buffer: bufferOf(n.id), dtype: n.dtype, shape: n.shape });
  const updates = Object.entries(opts.updates ?? {}).map(([out, param]) => {
    const o = g.outputs.find((x) => x.name === out);
    const p = g.nodes.find((n) => n.op === "param" && n.attrs.name === param);
    if (!o || !p) bug(`update ${out} → ${param} names a missing output or param`);
    const src = byId.get(o.id)!;
    if (src.dtype !== p.dtype || prod(src.shape) !== prod(p.shape)) bug(`update ${out} (${describe(src)}) does not fit ${param} (${describe(p)})`);
    return { from: bufferOf(o.id), to: bufferOf(p.id) };
  }).filter((u) => u.from !== u.to); // written in place (an adamw step)
  return {
    buffers,
    updates,
    kernels: used,
    dispatches,
    inputs: g.nodes.filter((n) => n.op === "input").map((n) => tensor(n, n.attrs.name!)),
    params: g.nodes.filter((n) => n.op === "param").map((n) => tensor(n, n.attrs.name!)),
    outputs: g.outputs.map((o) => tensor(byId.get(o.id)!, o.name)),
    graph: g,
    memory: { plan: memory, values: planValues, steps: steps.map((st) => ({ reads: st.reads, writes: st.writes, ...(st.inPlace === undefined ? {} : { inPlace: st.inPlace }) })) },
    matmuls,
  };
}

/** A dispatch being planned. `bindings`: value ids in the kernel's binding order, when not its reads
 *  then its writes; `group` and the in-place fields: in-place.ts. */
interface Step extends InPlaceStep {
  kernel: number;
  readonly reads: number[];
  readonly writes: number[];
  readonly bindings?: number[];
  readonly node: number;
  readonly workgroups: readonly [number, number, number];
}

/** Drops kernels no step uses any more (replaced by their in-place variant), renumbering the steps'. */
function compactKernels(kernels: readonly KernelSource[], steps: Step[]): KernelSource[] {
  const keep = [...new Set(steps.map((st) => st.kernel))].sort((a, b) => a - b);
  const index = new Map(keep.map((k, i) => [k, i]));
  for (const st of steps) st.kernel = index.get(st.kernel)!;
  return keep.map((k) => kernels[k]);
}

const bytesOf = (n: Node): number => Math.max(4, Math.ceil((prod(n.shape) * byteSize(n.dtype)) / 4) * 4);
