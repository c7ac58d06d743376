// movement.ts: copies for reshape, permute, broadcast, slice, pad and concat. One thread per output
// element computes its coordinates and reads the affine source index that ops/movement.ts describes.
// A concat with more inputs than a kernel may bind is split into several dispatches, each writing the
// part of the output its inputs cover. A concat's or a pad's input may be a view of a stored value
// (fuse-views.ts): the read then goes through the view's strides.
import type { Node } from "../ir.js";
import { LimitError, type DeviceLimits } from "../limits.js";
import { type AffineRead, affineReads } from "../ops/movement.js";
import { literal } from "./helpers.js";
import { prod } from "../shape.js";
import { bindingSlots } from "./windows.js";
import type { Strided } from "../strided.js";
import {
  type Binding,
  type KernelSource,
  affineIndex,
  elementLoop,
  header,
  load,
  store,
  unravelCode,
} from "./common.js";

function readExpr(r: AffineRead, b: Binding, fill: string, rank: number): string {
  const idx = affineIndex(r.offset, r.strides);
  if (!r.lo) return load(b, idx);
  const conds: string[] = [];
  for (let k = 0; k < rank; k++) {
    if (r.lo[k] > 0) conds.push(`c${k} >= ${r.lo[k]}`);
    conds.push(`c${k} < ${r.hi![k]}`);
  }
  // select() evaluates both sides, so the index is clamped to stay inside the buffer.
  return `select(${fill}, ${load(b, `max(${idx}, 0)`)}, ${conds.join(" && ") || "true"})`; // rank 0: no bounds
}

/** A concat's or pad's read of an input seen through `v`: input coordinate c − lo is stored at
 *  v.offset + Σ (cₖ − loₖ)·v.stridesₖ. */
function throughView(r: AffineRead, v: Strided): AffineRead {
  const lo = r.lo ?? v.strides.map(() => 0);
  return { ...r, offset: lo.reduce((o, l, k) => o - l * v.strides[k], v.offset), strides: v.strides };
}

/** `stored`: for a concat or a pad, the value each input is read from and through which strides, where
 *  that is not the input itself (fuse-views.ts); the kernels then bind those values. */
export function movementKernels(
  node: Node,
  inputs: readonly Node[],
  limits: DeviceLimits,
  stored?: readonly ({ readonly source: Node; readonly view: Strided } | undefined)[],
): { kernels: KernelSource[]; inputGroups: number[][] } {
  const rank = node.shape.length;
  const n = prod(node.shape);
  const out: Binding = { name: "out", dtype: node.dtype, access: "read_write" };
  const reads = affineReads(node.op, node.attrs, inputs, node).map((r) => {
    const s = stored?.[r.input];
    return s ? throughView(r, s.view) : r;
  });
  const bindsOf = inputs.map((x, i) => stored?.[i]?.source ?? x);
  const perKernel = limits.maxStorageBuffersPerShaderStage - 1;
  if (perKernel < 1)
    throw new LimitError(
      `a copy kernel needs 2 storage buffers but the device allows ${limits.maxStorageBuffersPerShaderStage}`,
    );
  // as many reads per kernel as it binds beside the output (one binding each, or one per window)
  const budget = limits.maxStorageBuffersPerShaderStage - bindingSlots([node], limits);
  const groups: AffineRead[][] = [];
  for (const r of reads) {
    const last = groups.at(-1);
    const bound = (g: readonly AffineRead[]) =>
      bindingSlots(
        g.map((x) => bindsOf[x.input]),
        limits,
      );
    if (last && bound([...last, r]) <= budget) last.push(r);
    else groups.push([r]);
  }
  const fill = literal(node.attrs.value ?? 0, node.dtype);
  const kernels = groups.map((group, gi) => {
    const ins: Binding[] = group.map((r, k) => ({ name: `in${k}`, dtype: bindsOf[r.input].dtype, access: "read" }));
    let body: string;
    if (node.op === "reshape") body = store(out, "i", load(ins[0], "i"));
    else if (groups.length === 1) {
      // one kernel writes everything: later reads fill the gaps of earlier ones
      const expr = group.reduceRight(
        (acc, r, k) => (r.lo ? readExpr(r, ins[k], acc, rank) : load(ins[k], affineIndex(r.offset, r.strides))),
        fill,
      );
      body = `${unravelCode("i", node.shape)}\n  ${store(out, "i", expr)}`;
    } else {
      // a split concat: each kernel writes only where its inputs lie
      const cases = group.map((r, k) => {
        const conds = node.shape.map((_, ax) => `c${ax} >= ${r.lo![ax]} && c${ax} < ${r.hi![ax]}`).join(" && ");
        return `if (${conds}) { ${store(out, "i", load(ins[k], affineIndex(r.offset, r.strides)))} }`;
      });
      body = `${unravelCode("i", node.shape)}\n  ${cases.join("\n  ")}`;
    }
    const { main, workgroups } = elementLoop(n, limits, body);
    const code = `${header([...ins, out])}
${main}`;
    return {
      name: `${node.op}${groups.length > 1 ? gi : ""}_${node.shape.join("x")}`,
      code,
      workgroups,
      bindings: [...ins, out],
    } satisfies KernelSource;
  });
  return { kernels, inputGroups: groups.map((g) => g.map((r) => r.input)) };
}
