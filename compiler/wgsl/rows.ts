// rows.ts (wgsl): write_rows. In place, one invocation per written element stores it into the cache's
// own buffer at the runtime offset (the cache is not bound for reading: WebGPU forbids binding one
// buffer twice when one binding is writable, and the other rows are already there). Out of place, one
// invocation per cache element copies it or takes the new row.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { rowsGeometry } from "../ops/rows.js";
import { normAxis, prod } from "../shape.js";
import { type Binding, type KernelSource, elementLoop, header, load, store } from "./common.js";

export function writeRowsKernel(
  node: Node,
  cache: Node,
  rows: Node,
  offset: Node,
  limits: DeviceLimits,
  inPlace: boolean,
): KernelSource {
  const axis = normAxis(node.attrs.axis ?? 0, node.shape.length);
  const g = rowsGeometry(node.shape, rows.shape[axis], axis);
  const cb: Binding = { name: "cache", dtype: cache.dtype, access: "read" };
  const rb: Binding = { name: "rows", dtype: rows.dtype, access: "read" };
  const ob: Binding = { name: "at", dtype: offset.dtype, access: "read" };
  const out: Binding = { name: "out", dtype: node.dtype, access: "read_write" };
  // one offset, or one per block of outer / n (ops/rows.ts); `o` is the block in both kernels below
  const per = g.outer / prod(offset.shape);
  const slot = per === g.outer ? "0" : `o / ${per}`;
  const at = offset.dtype === "i32" ? load(ob, slot) : `i32(${load(ob, slot)})`;
  const shape =
    `${node.shape.join("x")}_axis${axis}_rows${g.count}` + `${per === g.outer ? "" : `_at${prod(offset.shape)}`}`;
  if (inPlace) {
    const bindings = [rb, ob, out];
    const { main, workgroups } = elementLoop(
      prod(rows.shape),
      limits,
      `let ii = i % ${g.inner};
let r = (i / ${g.inner}) % ${g.count};
let o = i / ${g.inner * g.count};
let j = ${at} + r;
if (j >= 0 && j < ${g.size}) {
  ${store(out, `(o * ${g.size} + j) * ${g.inner} + ii`, load(rb, "i"))}
}`,
    );
    return { name: `write_rows_in_place_${shape}`, code: `${header(bindings)}\n${main}`, workgroups, bindings };
  }
  const bindings = [cb, rb, ob, out];
  const { main, workgroups } = elementLoop(
    prod(node.shape),
    limits,
    `let ii = i % ${g.inner};
let j = (i / ${g.inner}) % ${g.size};
let o = i / ${g.inner * g.size};
let r = j - ${at};
if (r >= 0 && r < ${g.count}) {
  ${store(out, "i", load(rb, `(o * ${g.count} + r) * ${g.inner} + ii`))}
} else {
  ${store(out, "i", load(cb, "i"))}
}`,
  );
  return { name: `write_rows_${shape}`, code: `${header(bindings)}\n${main}`, workgroups, bindings };
}
