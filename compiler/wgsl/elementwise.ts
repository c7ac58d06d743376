// elementwise.ts: one thread per output element; inputs of the output's shape are read at the same
// index, rank-0 inputs at 0. Cost: one read per input and one write per element.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { opSpec } from "../ops/index.js";
import type { WgslContext } from "../ops/spec.js";
import { prod, stridesOf } from "../shape.js";
import { type Binding, type KernelSource, elementLoop, header, load, store } from "./common.js";
import { helperSource } from "./helpers.js";

export function elementwiseKernel(node: Node, inputs: readonly Node[], limits: DeviceLimits): KernelSource {
  const spec = opSpec(node.op);
  if (spec.kind !== "elementwise") throw new Error(`elementwiseKernel: ${node.op} is not elementwise`);
  const n = prod(node.shape);
  const ins: Binding[] = inputs.map((t, k) => ({ name: `in${k}`, dtype: t.dtype, access: "read" }));
  const out: Binding = { name: "out", dtype: node.dtype, access: "read_write" };
  const helpers = new Set<string>();
  const strides = stridesOf(node.shape);
  const ctx: WgslContext = {
    index: "u32(i)",
    coord: (axis) => `u32((i / ${strides[axis]}) % ${node.shape[axis]})`,
    attrs: node.attrs,
    inputs,
    out: node,
    use: (h) => helpers.add(h),
  };
  const args = inputs.map((t, k) => load(ins[k], t.shape.length === 0 ? "0" : "i"));
  const body = spec.wgsl(args, ctx);
  const { main, workgroups } = elementLoop(n, limits, store(out, "i", body));
  const code = `${header([...ins, out])}
${helperSource(helpers)}

${main}`;
  return { name: `${node.op}_${node.shape.join("x") || "scalar"}`, code, workgroups, bindings: [...ins, out] };
}
