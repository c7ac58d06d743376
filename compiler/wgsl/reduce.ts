// reduce.ts: reductions over any axes. The input index splits into a part from the output element
// (kept axes) and a part from the reduction counter (reduced axes), both affine.
// Two strategies: one thread per output looping over the R reduced elements (many outputs), or one
// workgroup per output with a strided loop and a tree reduce in workgroup memory, log2(WG) barriers
// (few outputs, long rows). Both sum in a fixed order, so results are deterministic. Which one is the
// adapter's: barriers are cheap on a GPU and dear on a CPU (llvmpipe runs a workgroup's invocations in
// SIMD batches on one thread and switches between them at every barrier), where the tree is 4–12×
// slower than a loop per output for the few-output reductions of bias and LayerNorm gradients
// (f32[128, 28, 128] over axes 0 and 1: 12.0 ms against 0.96) and wins only for a handful of outputs.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { reduceAxes } from "../ops/reduce.js";
import { prod, stridesOf } from "../shape.js";
import {
  type Binding,
  type KernelSource,
  affineIndex,
  computeType,
  grid,
  header,
  load,
  store,
  unravelCode,
} from "./common.js";
import type { GroupEmitter } from "./fused.js";
import { helperSource, literal } from "./helpers.js";

export const COMBINE: Record<string, (a: string, b: string) => string> = {
  reduce_sum: (a, b) => `${a} + ${b}`,
  reduce_mean: (a, b) => `${a} + ${b}`,
  reduce_max: (a, b) => `max(${a}, ${b})`,
  reduce_min: (a, b) => `min(${a}, ${b})`,
};

/** Whether a reduction of `r` elements into each of `nOut` outputs takes the workgroup tree. */
export function usesWorkgroupTree(nOut: number, r: number, limits: Pick<DeviceLimits, "adapterKind">): boolean {
  return limits.adapterKind === "cpu" ? nOut <= 4 && r >= 4096 : r >= 256 && nOut < 4096;
}

/** `prologue`: the elementwise group that computes the input as it is read (fused), else a buffer. */
export function reduceKernel(node: Node, x: Node, limits: DeviceLimits, prologue?: GroupEmitter): KernelSource {
  const axes = reduceAxes(node.attrs, x.shape.length);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const st = stridesOf(x.shape);
  const keptShape = kept.map((i) => x.shape[i]);
  const redShape = axes.map((i) => x.shape[i]);
  const nOut = prod(keptShape);
  const r = prod(redShape);
  const inB: Binding = { name: "x", dtype: x.dtype, access: "read" };
  const ins: Binding[] = prologue ? prologue.bindings : [inB];
  const out: Binding = { name: "out", dtype: node.dtype, access: "read_write" };
  /** `let <name> = input[idx];` (through the prologue when fused) */
  const read = (name: string, idx: string): string => {
    if (!prologue) return `let ${name} = ${load(inB, idx)};`;
    const e = prologue.emit(idx);
    return `${e.lines.join("\n    ")}\n    let ${name} = ${e.value};`;
  };
  const t = computeType(node.dtype);
  const combine = COMBINE[node.op];
  const base = `${unravelCode("o", keptShape, "k")}\n  let base = ${affineIndex(
    0,
    kept.map((i) => st[i]),
    "k",
  )};`;
  const inner = unravelCode("j", redShape, "q");
  const offset = affineIndex(
    0,
    axes.map((i) => st[i]),
    "q",
  );
  const finish = (v: string) => (node.op === "reduce_mean" ? `${v} / ${t}(${r})` : v);
  const wgReduce = usesWorkgroupTree(nOut, r, limits);
  let code: string;
  let workgroups: [number, number, number];
  if (!wgReduce) {
    const wg = 64;
    const g = grid(Math.ceil(nOut / wg), limits);
    workgroups = g.workgroups;
    code = `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = i32(${g.linear} * ${wg}u + lid);
  if (o >= ${nOut}) { return; }
  ${base}
  ${read("first", "base")}
  var acc: ${t} = first;
  for (var j = 1; j < ${r}; j++) {
    ${inner}
    ${read("x_j", `base + ${offset}`)}
    acc = ${combine("acc", "x_j")};
  }
  ${store(out, "o", finish("acc"))}
}
`;
  } else {
    const wg = 256;
    const g = grid(nOut, limits);
    workgroups = g.workgroups;
    const spareNote = "// a grid folded into y/z has spare workgroups; o is uniform, so this may precede barriers";
    code = `var<workgroup> part: array<${t}, ${wg}>;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = i32(${g.linear});
  if (o >= ${nOut}) { return; } ${spareNote}
  ${base}
  let first = i32(lid);
  var acc: ${t} = ${literal(0, node.dtype)};
  if (first < ${r}) {
    { let j = first;
      ${inner}
      ${read("x0", `base + ${offset}`)}
      acc = x0; }
    for (var j = first + ${wg}; j < ${r}; j += ${wg}) {
      ${inner}
      ${read("x_j", `base + ${offset}`)}
      acc = ${combine("acc", "x_j")};
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
  // The prologue registers its helper functions while the body is generated, so the header comes last.
  code = `${header([...ins, out])}\n${helperSource(prologue?.helpers ?? [])}\n${code}`;
  const name = `${prologue ? `${prologue.label()}_` : ""}${node.op}_${x.shape.join("x")}_axes${axes.join("")}`;
  return { name, code, workgroups, bindings: [...ins, out] };
}
