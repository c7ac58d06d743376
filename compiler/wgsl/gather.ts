// gather.ts: gather reads table[(o, idx[c], i)] per output element; scatter-add is its transpose.
// Scatter-add runs one thread per output element that scans the indices in order and sums the matches:
// O(size·count·inner) work, but deterministic and free of float atomics (WGSL has none), so a training
// step gives bit-identical results on every run.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { gatherGeometry } from "../ops/linalg.js";
import { normAxis, prod } from "../shape.js";
import { type Binding, type KernelSource, computeType, elementLoop, header, load, store } from "./common.js";
import { literal } from "./helpers.js";

const asI32 = (b: Binding, idx: string): string => (b.dtype === "i32" ? load(b, idx) : `i32(${load(b, idx)})`);

export function gatherKernel(node: Node, table: Node, idx: Node, limits: DeviceLimits): KernelSource {
  const axis = normAxis(node.attrs.axis ?? 0, table.shape.length);
  const g = gatherGeometry(table.shape, idx.shape, axis);
  const n = prod(node.shape);
  const tb: Binding = { name: "table", dtype: table.dtype, access: "read" };
  const ib: Binding = { name: "idx", dtype: idx.dtype, access: "read" };
  const out: Binding = { name: "out", dtype: node.dtype, access: "read_write" };
  const { main, workgroups } = elementLoop(
    n,
    limits,
    `let e = i;
let ii = e % ${g.inner};
let c = (e / ${g.inner}) % ${g.count};
let o = e / ${g.inner * g.count};
let j = ${asI32(ib, "c")};
let ok = j >= 0 && j < ${g.size};
let v = ${load(tb, `(o * ${g.size} + clamp(j, 0, ${g.size - 1})) * ${g.inner} + ii`)};
${store(out, "e", `select(${literal(0, node.dtype)}, v, ok)`)}`,
  );
  const code = `${header([tb, ib, out])}
${main}`;
  return {
    name: `gather_${table.shape.join("x")}_by_${idx.shape.join("x")}`,
    code,
    workgroups,
    bindings: [tb, ib, out],
  };
}

export function scatterAddKernel(node: Node, idx: Node, upd: Node, limits: DeviceLimits): KernelSource {
  const axis = node.attrs.axis ?? 0;
  const g = gatherGeometry(node.shape, idx.shape, axis);
  const n = prod(node.shape);
  const ib: Binding = { name: "idx", dtype: idx.dtype, access: "read" };
  const ub: Binding = { name: "upd", dtype: upd.dtype, access: "read" };
  const out: Binding = { name: "out", dtype: node.dtype, access: "read_write" };
  const t = computeType(node.dtype);
  const { main, workgroups } = elementLoop(
    n,
    limits,
    `let e = i;
let ii = e % ${g.inner};
let j = (e / ${g.inner}) % ${g.size};
let o = e / ${g.inner * g.size};
var acc: ${t} = ${literal(0, node.dtype)};
for (var c = 0; c < ${g.count}; c++) {
  if (${asI32(ib, "c")} == j) { acc += ${load(ub, `(o * ${g.count} + c) * ${g.inner} + ii`)}; }
}
${store(out, "e", "acc")}`,
  );
  const code = `${header([ib, ub, out])}
${main}`;
  return { name: `scatter_add_${node.shape.join("x")}`, code, workgroups, bindings: [ib, ub, out] };
}
