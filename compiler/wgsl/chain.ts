// chain.ts: two matmuls back to back in one kernel — Y = epi₂(epi₁(X·W₁)·W₂), an MLP's two layers, or
// its backward pass (dY·W₂ᵀ ⊙ act′, then ·W₁ᵀ). A workgroup takes a block of rows: it computes the
// block's hidden rows H = epi₁(X·W₁) into workgroup memory (storing them too when something else reads
// them), waits at one barrier, and computes its rows of Y from H there. Rows are independent, so no work
// is repeated; what goes is the second kernel's launch and its reading H back. fuse-chains.ts decides
// where this pays (small hidden blocks: launch-bound work) and fits (workgroup memory, bindings).
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { kernelMatmulDims } from "../ops/linalg.js";
import { type Binding, type KernelSource, grid, header, load, store } from "./common.js";
import type { GroupEmitter } from "./fused.js";
import { helperSource } from "./helpers.js";
import { type MatmulSpec, at, layouts } from "./matmul.js";
import { bug } from "../../base/errors.js";

export interface ChainSpec {
  /** X·W₁ with its epilogue (bias, activation; several stores when absorbed kernels joined it) */
  readonly first: MatmulSpec;
  /** H·W₂, whose A is the first's value `hidden`, with its epilogue */
  readonly second: MatmulSpec;
  /** the first's value the second reads: the first matmul, or one of its epilogue's stores */
  readonly hidden: Node;
  /** the first's values stored for readers outside the kernel (the hidden value itself, or others) */
  readonly keep: readonly Node[];
}

/** Threads of a chain workgroup. */
export const CHAIN_THREADS = 64;

/** Rows of a block: four (a thread's share of a row stays long), one for a single-row product. */
export const chainRows = (m: number): number => Math.min(4, m);

export function chainDims(first: MatmulSpec, second: MatmulSpec): { m: number; k: number; n1: number; n2: number } {
  const d1 = kernelMatmulDims(first.a, first.b, { transA: first.transA, transB: first.transB });
  const d2 = kernelMatmulDims(second.a, second.b, { transA: second.transA, transB: second.transB });
  if (d1.batch.length > 0 || d2.batch.length > 0 || d1.m !== d2.m || d1.n !== d2.k || second.transA)
    bug("a matmul chain is two single matrices sharing M, the first's N the second's K (fuse-chains.ts)");
  return { m: d1.m, k: d1.k, n1: d1.n, n2: d2.n };
}

/** Epilogue `ep` of `mm` at `idx` from `value`: the lines computing it, the lines storing each of `stores`
 *  (by node and binding), and the expression of node `want` (the epilogue's root, else `value`). */
function finish(
  mm: Node,
  ep: GroupEmitter | undefined,
  idx: string,
  value: string,
  stores: readonly (readonly [Node, Binding])[],
  want?: Node,
): { lines: string[]; stores: string[]; wanted: string } {
  if (!ep) return { lines: [], stores: stores.map(([, b]) => store(b, idx, value)), wanted: value };
  // an f16 product is rounded as storing it would round it, then finished by the epilogue in f32
  const product = mm.dtype === "f16" ? `round_f16(${value})` : value;
  const e = ep.emit(idx, new Map([[mm.id, product]]));
  return {
    lines: e.lines,
    stores: stores.map(([n, b]) => store(b, idx, e.valueOf(n.id))),
    wanted: want && want.id !== mm.id ? e.valueOf(want.id) : want ? product : e.value,
  };
}

export function chainKernel(s: ChainSpec, extra: readonly Binding[], limits: DeviceLimits): KernelSource {
  const { first: f, second: t } = s;
  const { m, k, n1, n2 } = chainDims(f, t);
  const rows = chainRows(m);
  if (rows * n1 * 4 > limits.maxComputeWorkgroupStorageSize) bug("a chain's hidden block is past workgroup memory");
  const [la, lb] = layouts(f, []);
  const [, lw] = layouts(t, []);
  const A: Binding = { name: "a", dtype: f.a.dtype, access: "read" };
  const B: Binding = { name: "b", dtype: f.b.dtype, access: "read" };
  const W: Binding = { name: "w", dtype: t.b.dtype, access: "read" };
  const outs = t.epilogue ? t.epilogue.group.stores : [t.out];
  const C = outs.map((n, i): [Node, Binding] => [n, { name: `c${i}`, dtype: n.dtype, access: "read_write" }]);
  const H = s.keep.map((n, i): [Node, Binding] => [n, { name: `h${i}`, dtype: n.dtype, access: "read_write" }]);
  const bindings = [A, B, W, ...extra, ...C.map(([, b]) => b), ...H.map(([, b]) => b)];
  const aAt = (row: string, kk: string) => load(A, f.transA ? at("aoff", la, kk, row) : at("aoff", la, row, kk));
  const bAt = (kk: string, col: string) => load(B, f.transB ? at("boff", lb, col, kk) : at("boff", lb, kk, col));
  const wAt = (kk: string, col: string) => load(W, t.transB ? at("woff", lw, col, kk) : at("woff", lw, kk, col));
  const hidden = finish(f.out, f.epilogue, "(row * " + n1 + " + j)", "acc", H, s.hidden);
  const output = finish(t.out, t.epilogue, "(row * " + n2 + " + j)", "acc", C);
  const helpers = new Set([...(f.epilogue?.helpers ?? []), ...(t.epilogue?.helpers ?? [])]);
  // f16 values are rounded where the unchained kernels would store them: the products an epilogue
  // finishes, and the hidden value the second product reads back
  const f16 = [f.out, t.out, s.hidden].some((n) => n.dtype === "f16");
  if (f16) helpers.add("round_f16");
  const held = s.hidden.dtype === "f16" ? `round_f16(${hidden.wanted})` : hidden.wanted;
  const blocks = Math.ceil(m / rows);
  const g = grid(blocks, limits);
  const code = `${header(bindings)}
${helperSource(helpers)}
var<workgroup> hs: array<f32, ${rows * n1}>;

@compute @workgroup_size(${CHAIN_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = i32(${g.linear}) * ${rows};
  let aoff = ${la.offset};
  let boff = ${lb.offset};
  let woff = ${lw.offset};
  for (var e = i32(lid.x); e < ${rows * n1}; e += ${CHAIN_THREADS}) {
    let row = min(row0 + e / ${n1}, ${m - 1});
    let j = e % ${n1};
    var acc = 0.0;
    for (var kk = 0; kk < ${k}; kk++) { acc = fma(f32(${aAt("row", "kk")}), f32(${bAt("kk", "j")}), acc); }
    ${hidden.lines.join("\n    ")}
    hs[e] = ${held};
    ${hidden.stores.length ? `if (row0 + e / ${n1} < ${m}) { ${hidden.stores.join(" ")} }` : ""}
  }
  workgroupBarrier();
  for (var e = i32(lid.x); e < ${rows * n2}; e += ${CHAIN_THREADS}) {
    let row = row0 + e / ${n2};
    let j = e % ${n2};
    if (row < ${m}) {
      let hoff = (e / ${n2}) * ${n1};
      var acc = 0.0;
      for (var kk = 0; kk < ${n1}; kk++) { acc = fma(hs[hoff + kk], f32(${wAt("kk", "j")}), acc); }
      ${[...output.lines, ...output.stores].join("\n      ")}
    }
  }
}
`;
  return {
    name:
      `chain_${f.epilogue ? `${f.epilogue.label()}_` : ""}${t.epilogue ? `${t.epilogue.label()}_` : ""}` +
      `${m}x${k}x${n1}x${n2}${f.transA ? "_ta" : ""}${f.transB ? "_tb" : ""}${t.transB ? "_tb2" : ""}`,
    code,
    workgroups: g.workgroups,
    bindings,
  };
}
