// fused.ts: the kernel of a fused elementwise group (fuse.ts) — one thread per output element computes
// every node of the group in registers; materialized inputs are loaded once each, through the index
// arithmetic of any views between them and the group; constants are literals. Cost: one read per
// distinct input and one write, whatever the number of ops.
import type { FusedGroup } from "../fuse.js";
import { VIEW_OPS } from "../fuse.js";
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { opSpec } from "../ops/index.js";
import { affineReads } from "../ops/movement.js";
import type { WgslContext } from "../ops/spec.js";
import { prod, stridesOf } from "../shape.js";
import { type Binding, type KernelSource, affineIndex, elementLoop, header, load, store, unravelCode } from "./common.js";
import { helperSource, literal } from "./helpers.js";

export function fusedKernel(group: FusedGroup, byId: ReadonlyMap<number, Node>, inlined: ReadonlySet<number>, limits: DeviceLimits): KernelSource {
  const root = group.root;
  const n = prod(root.shape);
  const reads: Binding[] = group.reads.map((r, k) => ({ name: `in${k}`, dtype: r.dtype, access: "read" }));
  const bindingOf = new Map(group.reads.map((r, k) => [r.id, reads[k]]));
  const out: Binding = { name: "out", dtype: root.dtype, access: "read_write" };
  const helpers = new Set<string>();
  const lines: string[] = [];
  const memo = new Map<string, string>();
  let fresh = 0;

  /** The value of node `id` read at flat index `idx` of its own shape. */
  const valueAt = (id: number, idx: string): string => {
    const key = `${id}@${idx}`;
    const hit = memo.get(key);
    if (hit) return hit;
    const node = byId.get(id)!;
    let expr: string;
    if (!inlined.has(id)) expr = load(bindingOf.get(id)!, node.shape.length === 0 ? "0" : idx);
    else if (node.op === "full") return literal(node.attrs.value ?? 0, node.dtype);
    else if (VIEW_OPS.has(node.op)) {
      const input = byId.get(node.inputs[0])!;
      let inner = idx;
      if (node.op !== "reshape" && input.shape.length > 0) {
        const [r] = affineReads(node.op, node.attrs, [input], node);
        const p = `v${fresh++}_`;
        lines.push(`${unravelCode(idx, node.shape, p)}`);
        inner = `(${affineIndex(r.offset, r.strides, p)})`;
      }
      const v = valueAt(input.id, input.shape.length === 0 ? "0" : inner);
      memo.set(key, v);
      return v;
    } else throw new Error(`bug: fused kernel reads inlined ${node.op} %${id} outside its group`);
    const name = `r${fresh++}`;
    lines.push(`let ${name} = ${expr};`);
    memo.set(key, name);
    return name;
  };

  for (const node of group.nodes) {
    const spec = opSpec(node.op);
    if (spec.kind !== "elementwise") throw new Error(`bug: ${node.op} in a fused elementwise group`);
    const scalar = node.shape.length === 0;
    const strides = stridesOf(node.shape);
    const args = node.inputs.map((i) => {
      const input = byId.get(i)!;
      return group.nodes.includes(input) ? `v${i}` : valueAt(i, input.shape.length === 0 || scalar ? "0" : "i");
    });
    const ctx: WgslContext = {
      index: scalar ? "0u" : "u32(i)",
      coord: (axis) => `u32((i / ${strides[axis]}) % ${node.shape[axis]})`,
      attrs: node.attrs,
      inputs: node.inputs.map((i) => byId.get(i)!),
      out: node,
      use: (h) => helpers.add(h),
    };
    lines.push(`let v${node.id} = ${spec.wgsl(args, ctx)};`);
  }
  lines.push(store(out, "i", `v${root.id}`));
  const { main, workgroups } = elementLoop(n, limits, lines.join("\n"));
  const code = `${header([...reads, out])}
${helperSource(helpers)}

${main}`;
  const ops = group.nodes.map((x) => x.op);
  const label = ops.length > 4 ? `${ops.slice(-4).join("_")}_and_${ops.length - 4}_more` : ops.join("_");
  return { name: `${label}_${root.shape.join("x") || "scalar"}`, code, workgroups, bindings: [...reads, out] };
}
