// adamw-family.ts: the in-place AdamW nodes (passes/optimizer.ts) as dispatches — consecutive nodes
// with the same constants and scalar inputs, as many per dispatch as a stage binds (wgsl/optim.ts), each
// reading and writing its p, m and v in place. Empty parameters need none.
import type { Emitted, FamilyContext } from "./families.js";
import { type Graph, type Node, nodeById } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import type { InPlaceOptimizer } from "./passes/optimizer.js";
import { prod } from "./shape.js";
import { ADAMW_BINDINGS_PER_PARAM, ADAMW_SHARED_BINDINGS, adamwKernel } from "./wgsl/optim.js";
import { bindingSlots } from "./wgsl/windows.js";

/** The in-place adamw nodes of `g` in dispatches, keyed by each dispatch's first node. */
export function adamwGroups(g: Graph, opt: InPlaceOptimizer, limits: DeviceLimits): Map<number, Node[]> {
  // a member binds p, m, v and g: one binding each, or one per window past the binding size
  const budget = limits.maxStorageBuffersPerShaderStage - ADAMW_SHARED_BINDINGS;
  const byId = nodeById(g);
  const slots = (ns: readonly Node[]): number =>
    bindingSlots(
      ns.flatMap((a) => a.inputs.slice(0, ADAMW_BINDINGS_PER_PARAM).map((i) => byId.get(i)!)),
      limits,
    );
  const key = (n: Node): string => {
    const { beta1, beta2, clipNorm } = n.attrs.adamw!;
    return JSON.stringify([n.inputs.slice(4), beta1, beta2, clipNorm]);
  };
  const groups = new Map<number, Node[]>();
  let current: Node[] | undefined;
  for (const n of g.nodes) {
    if (!opt.nodes.has(n.id) || prod(n.shape) === 0) continue;
    if (!current || slots([...current, n]) > budget || key(current[0]) !== key(n)) groups.set(n.id, (current = []));
    current.push(n);
  }
  return groups;
}

/** The dispatch a group's first node stands for; the other members are computed by it. */
export function adamwFamily(n: Node, c: FamilyContext): Emitted[] {
  const members = c.adamw.get(n.id);
  if (!members) return [];
  // p, m, v read and written in place, g read: the params keep their own buffers (persistent)
  const params = members.map((a) => {
    const [p, , , grad] = a.inputs.map((i) => c.byId.get(i)!);
    return { param: p, grad, decays: a.attrs.adamw!.decays };
  });
  const kernel = adamwKernel(params, n.attrs.adamw!, c.limits);
  const bindings = [...n.inputs.slice(4), ...members.flatMap((a) => [...a.inputs.slice(0, 4)])].map(
    (i) => c.valueOf.get(i)!,
  );
  const writes = members.flatMap((a) => a.inputs.slice(0, 3)).map((i) => c.valueOf.get(i)!);
  return [{ kernel, reads: bindings.filter((b) => !writes.includes(b)), writes, bindings }];
}
