// matmul.ts: batched C[b] = op(A[b])·op(B[b]) for any M, N, K, transposes and broadcast batch dims.
// Two variants from one generator, chosen per adapter:
//  - "registers" (software adapters): each thread keeps a 4×8 block of C in eight vec4 registers and
//    streams A and B from memory with vec4 loads where the layout allows (K-blocks of 4); no
//    workgroup memory, no barriers — barriers are expensive when invocations are CPU loop iterations.
//    The workgroup's shape (8×8 threads by default) is a parameter that autotuning picks per matmul
//    signature (compiler/autotune.ts); a thread past the matrix edge still runs the K loop.
//  - "shared" (GPUs): a 64×64 tile per 16×16 workgroup, 4×4 per thread, K-tiles of 16 staged in
//    workgroup memory, two barriers per K-tile.
//  - "packed" (software adapters, many small matrices): the register kernel with its 64 threads laid
//    flat over every 4×8 tile of every matrix of the batch, instead of a workgroup per matrix tile.
//    Attention over a few tokens multiplies hundreds of 4×4…16×16 matrices; a workgroup each leaves most
//    of its threads past the edge, and a CPU adapter pays for every workgroup it starts.
// Sizes that are not multiples of a tile clamp their loads and guard their stores. A batch against one
// shared B runs as a single tall matrix (ops/linalg.ts kernelMatmulDims).
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { kernelMatmulDims } from "../ops/linalg.js";
import { prod } from "../shape.js";
import { type OperandLayout, denseLayout, vecAligned } from "../strided.js";
import { type Binding, type KernelSource, affineIndex, grid, header, load, store, unravelCode } from "./common.js";
import type { GroupEmitter } from "./fused.js";
import { helperSource } from "./helpers.js";
import { bug } from "../../base/errors.js";

export type MatmulVariant = "registers" | "shared" | "packed";

export interface MatmulSpec {
  readonly a: Node;
  readonly b: Node;
  readonly out: Node;
  readonly transA: boolean;
  readonly transB: boolean;
  /** elementwise work applied to each result before it is stored (fuse.ts epilogues): the kernel then
   *  writes the group's root, binding the group's other inputs after A and B */
  readonly epilogue?: GroupEmitter;
  /** how A and B are read when they are views of stored values (strided.ts); row-major when absent */
  readonly aLayout?: OperandLayout;
  readonly bLayout?: OperandLayout;
  /** where C's elements go when the kernel stores them permuted (fuse-views.ts permutedStores); row-major
   *  when absent. Not with an epilogue, which reads its other inputs at C's own index. */
  readonly cLayout?: OperandLayout;
}

/** The operands' layouts for a kernel whose output batch is `batch`. */
export function layouts(s: MatmulSpec, batch: readonly number[]): [OperandLayout, OperandLayout] {
  return [s.aLayout ?? denseLayout(s.a.shape, batch), s.bLayout ?? denseLayout(s.b.shape, batch)];
}

/** Whether `x` is a name, a number or one bracketed expression: something a product cannot split. */
function atomic(x: string): boolean {
  if (/^\w+$/.test(x)) return true;
  if (!x.startsWith("(")) return false;
  let depth = 0;
  for (let i = 0; i < x.length; i++) {
    depth += x[i] === "(" ? 1 : x[i] === ")" ? -1 : 0;
    if (depth === 0) return i === x.length - 1;
  }
  return false;
}

/** `base + row·rows + col·cols` for an operand laid out as `l`: the element at (row, col) of the stored
 *  matrix (Aᵀ's rows run along K), strides of 0 left out. */
export function at(base: string, l: OperandLayout, row: string, col: string): string {
  // a sum (`col0 + j`) is bracketed before it is scaled; a name or a bracketed expression is not
  const scaled = (x: string, st: number): string => (atomic(x) ? `${x} * ${st}` : `(${x}) * ${st}`);
  const term = (x: string, st: number): string => (st === 0 ? "" : st === 1 ? ` + ${x}` : ` + ${scaled(x, st)}`);
  return `${base}${term(row, l.rows)}${term(col, l.cols)}`;
}

/** The output binding, and how a result `value` at flat index `idx` is stored (through the epilogue). */
function output(
  s: MatmulSpec,
  vec: boolean,
): {
  C: Binding;
  extra: Binding[];
  more: Binding[];
  put: (idx: string, value: string) => string;
  helpers: () => string;
} {
  const ep = s.epilogue;
  const C: Binding = {
    name: "c",
    dtype: ep ? ep.group.root.dtype : s.out.dtype,
    access: "read_write",
    vec: vec && !ep ? 4 : 1,
  };
  if (!ep) return { C, extra: [], more: [], put: (idx, value) => store(C, idx, value), helpers: () => "" };
  // an epilogue that absorbed a kernel reading its root (fuse.ts) stores that kernel's value too
  const more: Binding[] = ep.group.stores.slice(1).map((n, k) => ({
    name: `c${k + 1}`,
    dtype: n.dtype,
    access: "read_write",
  }));
  return {
    C,
    extra: ep.bindings,
    more,
    put: (idx, value) => {
      // an f16 product is rounded as storing it would round it, then finished by the epilogue in f32
      if (s.out.dtype === "f16") ep.helpers.add("round_f16");
      const product = s.out.dtype === "f16" ? `round_f16(${value})` : value;
      const e = ep.emit(idx, new Map([[s.out.id, product]]));
      const extra = ep.group.stores.slice(1).map((n, k) => store(more[k], idx, e.valueOf(n.id)));
      return `{ ${[...e.lines, store(C, idx, e.value), ...extra].join(" ")} }`;
    },
    helpers: () => helperSource(ep.helpers),
  };
}

export function chooseMatmulVariant(limits: DeviceLimits): MatmulVariant {
  return limits.adapterKind === "cpu" ? "registers" : "shared";
}

/** A variant and, for "registers", its workgroup shape: threads along N (wx) and M (wy). The best shape
 *  depends on the adapter and the matrix (a skinny C fills few 8×8 workgroups), so compiler/autotune.ts
 *  can pick it per signature; 8×8 is the default. */
export interface MatmulChoice {
  readonly variant: MatmulVariant;
  readonly wx?: number;
  readonly wy?: number;
}

export const DEFAULT_WX = 8;
export const DEFAULT_WY = 8;
/** Threads of a "packed" workgroup, each one 4×8 tile of some matrix of the batch. */
export const PACKED_THREADS = 64;

export function matmulKernel(
  s: MatmulSpec,
  limits: DeviceLimits,
  choice: MatmulVariant | MatmulChoice = chooseMatmulVariant(limits),
): KernelSource {
  const c = typeof choice === "string" ? { variant: choice } : choice;
  if (s.cLayout && s.epilogue) bug("a matmul storing C permuted has no epilogue (fuse-views.ts)");
  if (c.variant === "packed") return registerKernel(s, limits, PACKED_THREADS, 1, true);
  return c.variant === "registers"
    ? registerKernel(s, limits, c.wx ?? DEFAULT_WX, c.wy ?? DEFAULT_WY)
    : sharedKernel(s, limits);
}

/** Where C's element (row, col) of the current matrix goes, from `coff` (cOffset). */
function storeAt(s: MatmulSpec, n: number): (row: string, col: string) => string {
  const lc = s.cLayout;
  return lc ? (row, col) => at("coff", lc, row, col) : (row, col) => `coff + ${row} * ${n} + ${col}`;
}

/** The first element of the current matrix of C (batch entry `bi`, coordinates `bb`). */
function cOffset(s: MatmulSpec, batch: readonly number[], size: number): string {
  const lc = s.cLayout;
  if (!lc) return `bi * ${size}`;
  return batch.length === 0 ? String(lc.offset) : affineIndex(lc.offset, lc.batch, "bb");
}

function batchPrologue(batch: readonly number[], la: OperandLayout, lb: OperandLayout): string {
  if (batch.length === 0) return `let aoff = ${la.offset};\n  let boff = ${lb.offset};`;
  return `${unravelCode("bi", batch, "bb")}
  let aoff = ${affineIndex(la.offset, la.batch, "bb")};
  let boff = ${affineIndex(lb.offset, lb.batch, "bb")};`;
}

function kernelName(s: MatmulSpec, batch: readonly number[], m: number, n: number, k: number): string {
  const base = `matmul${s.transA ? "_ta" : ""}${s.transB ? "_tb" : ""}`;
  return (
    `${base}${s.epilogue ? `_${s.epilogue.label()}` : ""}_` +
    `${batch.length ? `${batch.join("x")}x` : ""}${m}x${n}x${k}`
  );
}

const TM = 4;
const TN = 8;

function registerKernel(s: MatmulSpec, limits: DeviceLimits, wx: number, wy: number, packed = false): KernelSource {
  if (wx * wy > limits.maxComputeInvocationsPerWorkgroup)
    bug(`matmul workgroup ${wx}×${wy} exceeds ${limits.maxComputeInvocationsPerWorkgroup} invocations`);
  const { batch, m, n, k } = kernelMatmulDims(s.a, s.b, { transA: s.transA, transB: s.transB });
  const f32 = s.a.dtype === "f32";
  const [la, lb] = layouts(s, batch);
  // How the K loop reads its operands, written once rather than as a block of four k unrolled (on llvmpipe
  // the unrolled block made a TTM step's kernels take about 1.4× as long to compile cold, and ran no
  // faster). Per k, one step (scalar A or a vec4 over Aᵀ's four rows, and B's eight columns as two vec4)
  // when B is not transposed. With Bᵀ both operands run along K, so a block of four k reads vec4 of each
  // and each product is a dot: no lane shuffles. Aᵀ with Bᵀ loops over the block's four vector
  // components. Vec4 loads along K need K % 4 = 0 (16-byte aligned rows).
  // An operand read through a view (strided.ts) takes vec4 loads only where they stay aligned.
  const kb = k % 4 === 0 && f32 && s.transB && vecAligned(lb) ? 4 : 1;
  const dotForm = kb === 4 && !s.transA && vecAligned(la);
  const aVecK = dotForm; // A [M,K]: vec4 over k per row
  const aVecRows = s.transA && m % 4 === 0 && f32 && vecAligned(la); // Aᵀ stored [K,M]: vec4 over 4 rows at one k
  const bVecCols = !s.transB && n % 4 === 0 && f32 && vecAligned(lb); // B [K,N]: two vec4 over 8 columns at one k
  const bVecK = kb === 4; // Bᵀ stored [N,K]: vec4 over k per column
  const outVec = n % 4 === 0 && f32 && !s.epilogue && (!s.cLayout || vecAligned(s.cLayout));
  const cAt = storeAt(s, n);
  const A: Binding = { name: "a", dtype: s.a.dtype, access: "read", vec: aVecK || aVecRows ? 4 : 1 };
  const B: Binding = { name: "b", dtype: s.b.dtype, access: "read", vec: bVecCols || bVecK ? 4 : 1 };
  const { C, extra, more, put, helpers } = output(s, outVec);
  const nb = prod(batch);
  // rows of C per thread: 4, or 1 for a single-row C (a decoding step), whose other three would repeat it
  const tr = m === 1 ? 1 : TM;
  // Packed: thread t of the whole grid takes tile t (tiles of 4×8 counted over the batch); otherwise a
  // workgroup takes a (wy·4)×(wx·8) tile and its threads the 4×8 tiles inside it.
  const [tilesM, tilesN] = packed
    ? [Math.ceil(m / tr), Math.ceil(n / TN)]
    : [Math.ceil(m / (tr * wy)), Math.ceil(n / (TN * wx))];
  const g = grid(packed ? Math.ceil((tilesM * tilesN * nb) / wx) : tilesM * tilesN * nb, limits);
  const rows = Array.from({ length: tr }, (_, r) => r);
  const cols = [0, 1, 2, 3, 4, 5, 6, 7];
  // Row r of this thread (clamped for loads), column j (clamped for loads).
  const pre: string[] = [];
  rows.forEach((r) => pre.push(`let ar${r} = min(row0 + ${r}, ${m - 1});`));
  if (!bVecCols) cols.forEach((j) => pre.push(`let bc${j} = min(col0 + ${j}, ${n - 1});`));
  // Scalar element expressions.
  const aAt = (r: number, kk: string): string =>
    load(A, s.transA ? at("aoff", la, `(${kk})`, `ar${r}`) : at("aoff", la, `ar${r}`, kk));
  const bAt = (j: number, kk: string): string =>
    load(B, s.transB ? at("boff", lb, `bc${j}`, kk) : at("boff", lb, `(${kk})`, `bc${j}`));
  const body: string[] = [];
  // Loads that span a whole K-block.
  if (aVecK) rows.forEach((r) => body.push(`let va${r} = a[(${at("aoff", la, `ar${r}`, "kk")}) / 4];`));
  if (bVecK) cols.forEach((j) => body.push(`let vb${j} = b[(${at("boff", lb, `bc${j}`, "kk")}) / 4];`));
  /** One k of the K loop: the four A values and eight B values at k, and their 8 vec4 FMAs. */
  const oneK = (kk: string): string[] => {
    const step: string[] = [];
    let aVals: string[];
    if (aVecRows) {
      step.push(`let vr = a[(${at("aoff", la, `(${kk})`, "row0c")}) / 4];`);
      aVals = rows.map((r) => `vr.${"xyzw"[r]}`);
    } else aVals = rows.map((r) => `f32(${aAt(r, kk)})`);
    if (bVecCols) {
      step.push(`let bl = b[(${at("boff", lb, `(${kk})`, "colA")}) / 4];`);
      step.push(`let bh = b[(${at("boff", lb, `(${kk})`, "colB")}) / 4];`);
    } else if (bVecK) {
      step.push(`let bl = vec4<f32>(vb0[s], vb1[s], vb2[s], vb3[s]);`);
      step.push(`let bh = vec4<f32>(vb4[s], vb5[s], vb6[s], vb7[s]);`);
    } else {
      step.push(`let bl = vec4<f32>(${[0, 1, 2, 3].map((j) => bAt(j, kk)).join(", ")});`);
      step.push(`let bh = vec4<f32>(${[4, 5, 6, 7].map((j) => bAt(j, kk)).join(", ")});`);
    }
    rows.forEach((r) => {
      step.push(`{ let av = ${aVals[r]};`);
      step.push(`  acc${r}0 = fma(vec4<f32>(av), bl, acc${r}0); acc${r}1 = fma(vec4<f32>(av), bh, acc${r}1); }`);
    });
    return step;
  };
  const dots = (r: number, h: number): string =>
    `vec4<f32>(${[0, 1, 2, 3].map((j) => `dot(va${r}, vb${4 * h + j})`).join(", ")})`;
  if (dotForm) rows.forEach((r) => body.push(`acc${r}0 += ${dots(r, 0)};`, `acc${r}1 += ${dots(r, 1)};`));
  else if (kb === 1) body.push(...oneK("kk"));
  else body.push(`for (var s = 0; s < ${kb}; s++) {`, ...oneK("kk + s").map((l) => `  ${l}`), "}");
  const stores: string[] = [];
  if (!outVec) {
    // Element by element, in a loop: the epilogue is written once rather than for each of the 32 results
    // (code size, and so compile time, grows with every copy).
    const accs = rows.flatMap((r) => [`acc${r}0`, `acc${r}1`]).join(", ");
    stores.push(`var accs = array<vec4<f32>, ${2 * tr}>(${accs});
  for (var r = 0; r < ${tr}; r++) {
    if (row0 + r >= ${m}) { break; }
    for (var j = 0; j < ${TN}; j++) {
      if (col0 + j < ${n}) { ${put(cAt("(row0 + r)", "col0 + j"), "accs[r * 2 + j / 4][j % 4]")} }
    }
  }`);
  } else
    rows.forEach((r) => {
      const rowGuard = `row0 + ${r} < ${m}`;
      const parts: string[] = [];
      [0, 1].forEach((h) => {
        const c = `col0 + ${4 * h}`;
        parts.push(`if (${c} < ${n}) { c[(${cAt(`(row0 + ${r})`, c)}) / 4] = acc${r}${h}; }`);
      });
      stores.push(`if (${rowGuard}) {\n    ${parts.join("\n    ")}\n  }`);
    });
  const storeCode = stores.join("\n  ");
  const code = `${header([A, B, ...extra, C, ...more])}
${helpers()}
@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let lin = i32(${g.linear})${packed ? ` * ${wx} + i32(lid.x)` : ""};
  let tn = lin % ${tilesN};
  let tm = (lin / ${tilesN}) % ${tilesM};
  let bi = lin / ${tilesN * tilesM};
  if (bi >= ${nb}) { return; }
  ${batchPrologue(batch, la, lb)}
  let coff = ${cOffset(s, batch, m * n)};
  let row0 = ${packed ? `tm * ${tr}` : `(tm * ${wy} + i32(lid.y)) * ${tr}`};
  let col0 = ${packed ? `tn * ${TN}` : `(tn * ${wx} + i32(lid.x)) * ${TN}`};
  let row0c = min(row0, ${Math.max(0, m - 4)});
  let colA = min(col0, ${Math.max(0, n - 4)});
  let colB = min(col0 + 4, ${Math.max(0, n - 4)});
  ${pre.join("\n  ")}
  ${rows.map((r) => `var acc${r}0 = vec4<f32>(0.0); var acc${r}1 = vec4<f32>(0.0);`).join("\n  ")}
  for (var kk = 0; kk < ${k}; kk += ${kb}) {
    ${body.join("\n    ")}
  }
  ${storeCode}
}
`;
  // a shape other than 8×8 (tuned, or fitted to a skinny C by autotune.ts defaultConfig) shows in the name
  const shape = packed ? "_packed" : wx === DEFAULT_WX && wy === DEFAULT_WY ? "" : `_w${wx}x${wy}`;
  return {
    name: `${kernelName(s, batch, m, n, k)}${shape}`,
    code,
    workgroups: g.workgroups,
    bindings: [A, B, ...extra, C, ...more],
  };
}

const ST = 64; // shared tile edge
const SK = 16; // K-tile

function sharedKernel(s: MatmulSpec, limits: DeviceLimits): KernelSource {
  const { batch, m, n, k } = kernelMatmulDims(s.a, s.b, { transA: s.transA, transB: s.transB });
  const A: Binding = { name: "a", dtype: s.a.dtype, access: "read" };
  const B: Binding = { name: "b", dtype: s.b.dtype, access: "read" };
  const { C, extra, more, put, helpers } = output(s, false);
  const tilesM = Math.ceil(m / ST);
  const tilesN = Math.ceil(n / ST);
  const nb = prod(batch);
  const g = grid(tilesM * tilesN * nb, limits);
  const [la, lb] = layouts(s, batch);
  const aAt = (r: string, kk: string) =>
    load(A, s.transA ? at("aoff", la, `(${kk})`, `(${r})`) : at("aoff", la, `(${r})`, `(${kk})`));
  const bAt = (kk: string, c: string) =>
    load(B, s.transB ? at("boff", lb, `(${c})`, `(${kk})`) : at("boff", lb, `(${kk})`, `(${c})`));
  const storeCode = put(storeAt(s, n)("r", "cc"), "acc[i * 4 + j]");
  const code = `${header([A, B, ...extra, C, ...more])}
${helpers()}
var<workgroup> As: array<f32, ${ST * SK}>;
var<workgroup> Bs: array<f32, ${SK * ST}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let lin = i32(${g.linear});
  let tn = lin % ${tilesN};
  let tm = (lin / ${tilesN}) % ${tilesM};
  let bi = min(lin / ${tilesN * tilesM}, ${nb - 1});
  let live = lin / ${tilesN * tilesM} < ${nb};
  ${batchPrologue(batch, la, lb)}
  let coff = ${cOffset(s, batch, m * n)};
  let tid = i32(lid.y) * 16 + i32(lid.x);
  var acc: array<f32, 16>;
  for (var k0 = 0; k0 < ${k}; k0 += ${SK}) {
    for (var e = tid; e < ${ST * SK}; e += 256) {
      let r = e / ${SK};
      let kk = k0 + e % ${SK};
      let gr = tm * ${ST} + r;
      As[e] = select(0.0, f32(${aAt(`min(gr, ${m - 1})`, `min(kk, ${k - 1})`)}), gr < ${m} && kk < ${k});
      let kr = e / ${ST};
      let gc = tn * ${ST} + e % ${ST};
      let kb = k0 + kr;
      Bs[e] = select(0.0, f32(${bAt(`min(kb, ${k - 1})`, `min(gc, ${n - 1})`)}), gc < ${n} && kb < ${k});
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${SK}; kk++) {
      for (var i = 0; i < 4; i++) {
        let av = As[(i32(lid.y) * 4 + i) * ${SK} + kk];
        for (var j = 0; j < 4; j++) { acc[i * 4 + j] = fma(av, Bs[kk * ${ST} + i32(lid.x) * 4 + j], acc[i * 4 + j]); }
      }
    }
    workgroupBarrier();
  }
  if (!live) { return; }
  for (var i = 0; i < 4; i++) {
    for (var j = 0; j < 4; j++) {
      let r = tm * ${ST} + i32(lid.y) * 4 + i;
      let cc = tn * ${ST} + i32(lid.x) * 4 + j;
      if (r < ${m} && cc < ${n}) { ${storeCode} }
    }
  }
}
`;
  return {
    name: `${kernelName(s, batch, m, n, k)}_shared`,
    code,
    workgroups: g.workgroups,
    bindings: [A, B, ...extra, C, ...more],
  };
}
