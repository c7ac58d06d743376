// allocate.ts: buffers for a schedule's values. Values whose lifetimes do not overlap share one
// (plan.ts: planMemory); fed values and outputs keep their own. `reuse: false` is the one-buffer-per-value
// baseline. An elementwise kernel may store into a read that dies at its step (in-place.ts): the plan
// decides, and such a step gets the kernel variant that loads that read through its output binding.
import { isFed, type Node } from "./ir.js";
import { proposeInPlace } from "./in-place.js";
import type { DeviceLimits } from "./limits.js";
import { planMemory } from "./plan.js";
import type { BufferRole, Dispatch, Program, ProgramBuffer } from "./program.js";
import { type Schedule, type Step, bytesOf } from "./schedule.js";
import type { KernelSource } from "./wgsl/common.js";
import { fusedKernel } from "./wgsl/fused.js";
import { windowCount } from "./wgsl/windows.js";

export interface Allocation {
  readonly buffers: ProgramBuffer[];
  /** the kernels some dispatch uses, in first-added order */
  readonly kernels: KernelSource[];
  readonly dispatches: Dispatch[];
  readonly memory: Program["memory"];
  /** the buffer holding a node's result */
  readonly bufferOf: (nodeId: number) => number;
}

export function allocate(s: Schedule, limits: DeviceLimits, reuse: boolean, gap = 0): Allocation {
  const { byId, plan, steps, valueOf } = s;
  const outputIds = new Set(s.graph.outputs.map((o) => o.id));
  const persistent = (n: Node): boolean => isFed(n) || outputIds.has(n.id) || s.keptToEnd.has(n.id);
  const planValues = s.values.map((n) => ({ id: n.id, bytes: bytesOf(n), persistent: persistent(n) }));
  proposeInPlace(steps, planValues, valueOf, byId, plan.inlined);
  const windows = (bytes: number): number => windowCount(bytes, limits.maxStorageBufferBindingSize);
  const memory = planMemory(planValues, steps, reuse, gap, windows);
  for (const k of memory.inPlaceSteps) {
    // the kernel loads the overwritten read through its output binding (WebGPU forbids binding one
    // buffer twice when one binding is writable), so that read leaves its bindings
    const st = steps[k];
    const kernel = fusedKernel(st.group!, byId, plan.inlined, limits, st.inPlaceNode);
    const bindings = [...st.reads.filter((r) => r !== st.inPlace), ...st.writes];
    steps[k] = { ...st, kernel: s.kernels.add(kernel), bindings };
  }
  const kernels = compactKernels(s.kernels.kernels, steps);
  const buffers: ProgramBuffer[] = memory.slots.map((bytes, slot) => {
    const first = byId.get(memory.residents[slot][0])!;
    const role: BufferRole = isFed(first) ? (first.op as BufferRole) : outputIds.has(first.id) ? "output" : "temp";
    const name = persistent(first) ? first.attrs.name : undefined;
    return { id: slot, dtype: first.dtype, shape: first.shape, bytes, role, name };
  });
  const dispatches: Dispatch[] = steps.map((st) => {
    const buffers = (st.bindings ?? [...st.reads, ...st.writes]).map((v) => memory.slotOf.get(v)!);
    return { kernel: st.kernel, buffers, workgroups: st.workgroups, node: st.node };
  });
  const memorySteps = steps.map((st) => ({
    reads: st.reads,
    writes: st.writes,
    ...(st.inPlace === undefined ? {} : { inPlace: st.inPlace }),
  }));
  return {
    buffers,
    kernels,
    dispatches,
    memory: { plan: memory, values: planValues, steps: memorySteps },
    bufferOf: (nodeId) => memory.slotOf.get(valueOf.get(nodeId)!)!,
  };
}

/** Drops kernels no step uses any more (replaced by their in-place variant), renumbering the steps'. */
function compactKernels(kernels: readonly KernelSource[], steps: Step[]): KernelSource[] {
  const keep = [...new Set(steps.map((st) => st.kernel))].sort((a, b) => a - b);
  const index = new Map(keep.map((k, i) => [k, i]));
  for (const st of steps) st.kernel = index.get(st.kernel)!;
  return keep.map((k) => kernels[k]);
}
