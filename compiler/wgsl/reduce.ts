// reduce.ts: reductions over any axes. The input index splits into a part from the output element
// (kept axes) and a part from the reduction counter (reduced axes), both affine.
// Two strategies: one thread per output looping over the R reduced elements (many outputs), or one
// workgroup per output with a strided loop and a tree reduce in workgroup memory, log2(WG) barriers
// (few outputs, long rows). Both sum in a fixed order, so results are deterministic.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { reduceAxes } from "../ops/reduce.js";
import { prod, stridesOf } from "../shape.js";
import { type Binding, type KernelSource, affineIndex, computeType, grid, header, load, store, unravelCode } from "./common.js";

const COMBINE: Record<string, (a: string, b: string) => string> = {
  reduce_sum: (a, b) => `${a} + ${b}`,
  reduce_mean: (a, b) => `${a} + ${b}`,
  reduce_max: (a, b) => `max(${a}, ${b})`,
  reduce_min: (a, b) => `min(${a}, ${b})`,
};

export function reduceKernel(node: Node, x: Node, limits: DeviceLimits): KernelSource {
  const axes = reduceAxes(node.attrs, x.shape.length);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const st = stridesOf(x.shape);
  const keptShape = kept.map((i) => x.shape[i]);
  const redShape = axes.map((i) => x.shape[i]);
  const nOut = prod(keptShape);
  const r = prod(redShape);
  const inB: Binding = { name: "x", dtype: x.dtype, access: "read" };
  const out: Binding = { name: "out", dtype: node.dtype, access: "read_write" };
  const t = computeType(node.dtype);
  const combine = COMBINE[node.op];
  const base = `${unravelCode("o", keptShape, "k")}\n  let base = ${affineIndex(0, kept.map((i) => st[i]), "k")};`;
  const inner = unravelCode("j", redShape, "q");
  const offset = affineIndex(0, axes.map((i) => st[i]), "q");
  const finish = (v: string) => (node.op === "reduce_mean" ? `${v} / ${t}(${r})` : v);
  const wgReduce = r >= 256 && nOut < 4096;
  let code: string;
  let workgroups: [number, number, number];
  if (!wgReduce) {
    const wg = 64;
    const g = grid(Math.ceil(nOut / wg), limits);
    workgroups = g.workgroups;
    code = `${header([inB, out])}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = i32(${g.linear} * ${wg}u + lid);
  if (o >= ${nOut}) { return; }
  ${base}
  var acc: ${t} = ${load(inB, "base")};
  for (var j = 1; j < ${r}; j++) {
    ${inner}
    acc = ${combine("acc", load(inB, `base + ${offset}`))};
  }
  ${store(out, "o", finish("acc"))}
}
`;
  } else {
    const wg = 256;
    const g = grid(nOut, limits);
    workgroups = g.workgroups;
    code = `${header([inB, out])}
var<workgroup> part: array<${t}, ${wg}>;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = i32(${g.linear});
  ${base}
  let first = i32(lid);
  var acc: ${t} = ${load(inB, "base")};
  if (first < ${r}) {
    { let j = first;
      ${inner}
      acc = ${load(inB, `base + ${offset}`)}; }
    for (var j = first + ${wg}; j < ${r}; j += ${wg}) {
      ${inner}
      acc = ${combine("acc", load(inB, `base + ${offset}`))};
    }
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid < s && i32(lid + s) < ${r}) { part[lid] = ${combine("part[lid]", "part[lid + s]")}; }
    workgroupBarrier();
  }
  if (lid == 0u) { ${store(out, "o", finish("part[0]"))} }
}
`;
  }
  return { name: `${node.op}_${x.shape.join("x")}_axes${axes.join("")}`, code, workgroups, bindings: [inB, out] };
}
