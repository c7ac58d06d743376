// chain.ts: two matmuls back to back in one kernel — Y = epi₂(epi₁(X·W₁)·W₂), an MLP's two layers, or
// its backward pass (dY·W₂ᵀ ⊙ act′, then ·W₁ᵀ). A workgroup takes a block of rows: it computes the
// block's hidden rows H = epi₁(X·W₁) into workgroup memory (storing them too when something else reads
// them), waits at one barrier, and computes its rows of Y from H there. Each thread takes tiles of 4 rows
// by 8 columns in vec4 registers, as the register matmul kernel does (one load of each operand per k
// serves 4 × 8 products); a workgroup takes as many rows as its memory and 64 threads cover. Rows are
// independent, so no work is repeated; what goes is the second kernel's launch and its reading H
// back. A row kernel computing X (a layer norm) may run first, for the block's rows, into workgroup
// memory. fuse-chains.ts decides
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
  /** a row kernel computing the first's A (a layer norm), run for the block's rows into workgroup memory
   *  first: its code per row (wgsl/row-group.ts rowGroupStages, with `lr` the row in the block, `o` the
   *  row, `j` the element, and `xs` given A's elements), and the bindings of the values it stores */
  readonly prologue?: { readonly code: string; readonly stores: readonly Binding[]; readonly helpers: Set<string> };
}

/** Threads of a chain workgroup at most: one per 8-column tile of the wider result. */
export const CHAIN_THREADS = 64;
const TILE = 8;

/** Rows of a thread's tile: four, fewer for a product of fewer rows (a decoding step's one). */
const tileRows = (m: number): number => Math.min(4, m);

/** Tiles of rows a workgroup takes: as many as workgroup memory holds of the hidden rows and the threads
 *  cover (a CPU adapter pays for every workgroup it starts; these products are small), at least one. */
export function chainRowTiles(m: number, n1: number, n2: number, limits: DeviceLimits, k = 0): number {
  const tr = tileRows(m);
  const byMemory = Math.floor(limits.maxComputeWorkgroupStorageSize / (4 * tr * (n1 + k)));
  const byThreads = Math.floor(CHAIN_THREADS / Math.max(Math.ceil(n1 / TILE), Math.ceil(n2 / TILE)));
  return Math.max(0, Math.min(Math.ceil(m / tr), byMemory, Math.max(1, byThreads)));
}

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
  const tr = tileRows(m);
  const pro = s.prologue;
  const rowTiles = chainRowTiles(m, n1, n2, limits, pro ? k : 0);
  if (rowTiles < 1) bug("a chain's hidden rows are past workgroup memory (fuse-chains.ts)");
  const rows = tr * rowTiles; // a workgroup's block
  const [la, lb] = layouts(f, []);
  const [, lw] = layouts(t, []);
  const A: Binding = { name: "a", dtype: f.a.dtype, access: "read" };
  const B: Binding = { name: "b", dtype: f.b.dtype, access: "read" };
  const W: Binding = { name: "w", dtype: t.b.dtype, access: "read" };
  const outs = t.epilogue ? t.epilogue.group.stores : [t.out];
  const C = outs.map((n, i): [Node, Binding] => [n, { name: `c${i}`, dtype: n.dtype, access: "read_write" }]);
  const H = s.keep.map((n, i): [Node, Binding] => [n, { name: `h${i}`, dtype: n.dtype, access: "read_write" }]);
  const bindings = [
    ...(pro ? [] : [A]),
    B,
    W,
    ...extra,
    ...C.map(([, b]) => b),
    ...H.map(([, b]) => b),
    ...(pro?.stores ?? []),
  ];
  // with a row prologue, A's block is in workgroup memory (xs), rows past the end clamped to the last
  const aAt = (row: string, kk: string) =>
    pro ? `xs[(${row} - row0) * ${k} + ${kk}]` : load(A, f.transA ? at("aoff", la, kk, row) : at("aoff", la, row, kk));
  const bAt = (kk: string, col: string) => load(B, f.transB ? at("boff", lb, col, kk) : at("boff", lb, kk, col));
  const wAt = (kk: string, col: string) => load(W, t.transB ? at("woff", lw, col, kk) : at("woff", lw, kk, col));
  const hidden = finish(f.out, f.epilogue, "(row * " + n1 + " + j)", "acc", H, s.hidden);
  const output = finish(t.out, t.epilogue, "(row * " + n2 + " + j)", "acc", C);
  const helpers = new Set([...(f.epilogue?.helpers ?? []), ...(t.epilogue?.helpers ?? []), ...(pro?.helpers ?? [])]);
  // f16 values are rounded where the unchained kernels would store them: the products an epilogue
  // finishes, and the hidden value the second product reads back
  const f16 = [f.out, t.out, s.hidden].some((n) => n.dtype === "f16");
  if (f16) helpers.add("round_f16");
  const held = s.hidden.dtype === "f16" ? `round_f16(${hidden.wanted})` : hidden.wanted;
  const blocks = Math.ceil(m / rows);
  const g = grid(blocks, limits);
  // threads: 64 whatever the tiles (tr rows × 8 columns in registers each), so that a chain can be a
  // stage of a sequence kernel, whose stages with barriers must have the sequence's workgroup size
  const [tiles1, tiles2] = [n1, n2].map((n) => Math.ceil(n / TILE));
  const threads = CHAIN_THREADS;
  const rs = Array.from({ length: tr }, (_, r) => r);
  const js = Array.from({ length: TILE }, (_, j) => j);
  const fmas = (r: number): string => `acc${r}0 = fma(av, bl, acc${r}0); acc${r}1 = fma(av, bh, acc${r}1);`;
  /** The K loop of one tile: `aVal(r)` row r's operand at kk, `bVal(j)` column j's. */
  const tileLoop = (kDim: number, aVal: (r: number) => string, bVal: (j: number) => string): string =>
    `${rs.map((r) => `var acc${r}0 = vec4<f32>(0.0); var acc${r}1 = vec4<f32>(0.0);`).join("\n    ")}
    for (var kk = 0; kk < ${kDim}; kk++) {
      let bl = vec4<f32>(${[0, 1, 2, 3].map(bVal).join(", ")});
      let bh = vec4<f32>(${[4, 5, 6, 7].map(bVal).join(", ")});
      ${rs.map((r) => `{ let av = vec4<f32>(${aVal(r)}); ${fmas(r)} }`).join("\n      ")}
    }
    var accs = array<vec4<f32>, ${2 * tr}>(${rs.flatMap((r) => [`acc${r}0`, `acc${r}1`]).join(", ")});`;
  const code = `${header(bindings)}
${helperSource(helpers)}
var<workgroup> hs: array<f32, ${rows * n1}>;
${pro ? `var<workgroup> xs: array<f32, ${rows * k}>;` : ""}

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = i32(${g.linear}) * ${rows};
  let aoff = ${la.offset};
  let boff = ${lb.offset};
  let woff = ${lw.offset};
  ${
    pro
      ? `for (var lr = i32(lid.x); lr < ${rows}; lr += ${threads}) {
    let o = min(row0 + lr, ${m - 1});
    ${pro.code}
  }
  workgroupBarrier();`
      : ""
  }
  for (var t = i32(lid.x); t < ${rowTiles * tiles1}; t += ${threads}) {
    let hrow = (t / ${tiles1}) * ${tr};
    let col0 = (t % ${tiles1}) * ${TILE};
    ${rs.map((r) => `let ar${r} = min(row0 + hrow + ${r}, ${m - 1});`).join("\n    ")}
    ${js.map((j) => `let bc${j} = min(col0 + ${j}, ${n1 - 1});`).join("\n    ")}
    ${tileLoop(
      k,
      (r) => `f32(${aAt(`ar${r}`, "kk")})`,
      (j) => `f32(${bAt("kk", `bc${j}`)})`,
    )}
    for (var r = 0; r < ${tr}; r++) {
      let row = min(row0 + hrow + r, ${m - 1});
      for (var jj = 0; jj < ${TILE}; jj++) {
        let j = col0 + jj;
        if (j < ${n1}) {
          let acc = accs[r * 2 + jj / 4][jj % 4];
          ${hidden.lines.join("\n          ")}
          hs[(hrow + r) * ${n1} + j] = ${held};
          ${hidden.stores.length ? `if (row0 + hrow + r < ${m}) { ${hidden.stores.join(" ")} }` : ""}
        }
      }
    }
  }
  workgroupBarrier();
  for (var t = i32(lid.x); t < ${rowTiles * tiles2}; t += ${threads}) {
    let hrow = (t / ${tiles2}) * ${tr};
    let col0 = (t % ${tiles2}) * ${TILE};
    ${js.map((j) => `let wc${j} = min(col0 + ${j}, ${n2 - 1});`).join("\n    ")}
    ${tileLoop(
      n1,
      (r) => `hs[(hrow + ${r}) * ${n1} + kk]`,
      (j) => `f32(${wAt("kk", `wc${j}`)})`,
    )}
    for (var r = 0; r < ${tr}; r++) {
      let row = row0 + hrow + r;
      if (row >= ${m}) { break; }
      for (var jj = 0; jj < ${TILE}; jj++) {
        let j = col0 + jj;
        if (j < ${n2}) {
          let acc = accs[r * 2 + jj / 4][jj % 4];
          ${[...output.lines, ...output.stores].join("\n          ")}
        }
      }
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
