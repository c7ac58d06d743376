// attention.ts: kernels of the flash-attention ops (ops/attention.ts), which never store the Tq×Tk scores.
// Shaped for software adapters (llvmpipe), where an invocation is a SIMD lane of a CPU loop, barriers are
// costly and every storage-buffer load whose index is not a compile-time constant becomes a per-lane
// scalar load with its own bounds check — the dominant cost, and what the code is arranged around:
//  - each invocation owns `r` rows (query rows; key rows for dK|dV) and keeps their operands and
//    accumulators in vec4 registers, so each element loaded from the other side is used r times;
//  - the loop over the other side loads one row per iteration: llvmpipe's compile time grows steeply
//    with the number of loads and registers in a kernel's text (seconds at r = 4), so r is chosen by
//    problem size (`layout`), the other side is not blocked further, and rows are stored as vec4;
//  - no workgroup memory and no barriers.
// The ops:
//  - flash_attention: online softmax per key — running max m, sum l and accumulators per row, with one
//    exp per (row, key): exp(−|s − m|) is the new key's weight or the old sum's rescale factor;
//  - attention_lse: the same loop without values; stores m + log(l) (log tk for a fully masked row);
//  - attention_dq: per key, p = exp(s − lse), dS = p·(dO·v − delta), dQ += dS·k;
//  - attention_dkv: per query, the same p and dS; dV += p·dO, dK += dS·q.
// Masks are a prefix of the keys per query row (keyEnd): a workgroup loops to its last row's end (ends
// grow with i) and masked keys inside that range get MASKED_SCORE, as in the reference; queries that
// cannot see any of a workgroup's keys are skipped. A fully masked row averages all values uniformly,
// so a forward workgroup holding one loops over every key, and dK|dV adds its dO / tk to every dV.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { type AttentionDims, attentionDims } from "../ops/attention.js";
import { MASKED_SCORE } from "../ops/composite.js";
import { FLASH_MIN_SCORE_BYTES } from "../passes/choose-attention.js";
import type { DType } from "../dtype.js";
import { type Binding, type KernelSource, grid, header, load, store } from "./common.js";
import { literal } from "./helpers.js";
import { bug } from "../../base/errors.js";

/** Initial running max: below every score, MASKED_SCORE included, so the first key replaces it. */
const BELOW = -3e38;

/** A row-major [rows, width] input read a vec4 at a time (array<vec4> when f32 rows are 16-byte aligned). */
interface Operand {
  readonly b: Binding;
  readonly width: number;
}

function operand(name: string, dtype: DType, width: number): Operand {
  return { b: { name, dtype, access: "read", vec: width % 4 === 0 && dtype === "f32" ? 4 : 1 }, width };
}

const chunks = (width: number): number[] => Array.from({ length: Math.ceil(width / 4) }, (_, c) => c);

/** The c-th vec4 of row `row` (an i32 expression) of an operand, zero past its width. */
function chunk(o: Operand, row: string, c: number): string {
  if (o.b.vec === 4) return `${o.b.name}[(${row}) * ${o.width / 4} + ${c}]`;
  const parts = [0, 1, 2, 3].map((e) =>
    4 * c + e < o.width ? load(o.b, `(${row}) * ${o.width} + ${4 * c + e}`) : "0.0",
  );
  return `vec4<f32>(${parts.join(", ")})`;
}

/** `let name = Σ a(c)·b(c)` over n vec4 chunks, as fma chains with one horizontal sum at the end. */
function dotLines(name: string, n: number, a: (c: number) => string, b: (c: number) => string): string[] {
  const lines = [`var ${name}v = ${a(0)} * ${b(0)};`];
  for (let c = 1; c < n; c++) lines.push(`${name}v = fma(${a(c)}, ${b(c)}, ${name}v);`);
  lines.push(`let ${name} = ${name}v.x + ${name}v.y + ${name}v.z + ${name}v.w;`);
  return lines;
}

/** Stores the vec4 registers `reg(c)` as `width` values from flat offset `base` (an i32 expression): vec4
 *  stores into an array<vec4> output (fewer per-lane stores in the text, see the header), else scalars. */
function storeRow(out: Binding, base: string, width: number, reg: (c: number) => string): string[] {
  if (out.vec === 4) return chunks(width).map((c) => `${out.name}[(${base}) / 4 + ${c}] = ${reg(c)};`);
  const lines: string[] = [];
  for (let x = 0; x < width; x++)
    lines.push(store(out, `${base} + ${x}`, `${reg(Math.floor(x / 4))}.${"xyzw"[x % 4]}`));
  return lines;
}

/** The output binding: array<vec4<f32>> when every row segment stored starts and ends 16-byte aligned. */
const output = (dtype: DType, widths: readonly number[]): Binding => ({
  name: "out",
  dtype,
  access: "read_write",
  vec: dtype === "f32" && widths.every((w) => w % 4 === 0) ? 4 : 1,
});

/**
 * WGSL of the mask as prefixes: `lim` (the padding length, clamped to [0, tk], else tk) once per problem,
 * key_end(i, lim) — keys j < key_end may be seen by query i — and query_start(j, lim) — the first query
 * that may see key j (key_end is non-decreasing in i, so the queries that see a key are a suffix).
 */
function maskCode(dims: AttentionDims, len: Binding | undefined): { lim: string; fns: string } {
  const { tq, tk, mask } = dims;
  const shift = tk - tq;
  let end = `${tk}`;
  let start = "0";
  if (mask.kind === "causal") {
    end = `clamp(i + ${shift + 1}, 0, ${tk})`;
    start = `clamp(j - ${shift}, 0, ${tq})`;
  } else if (mask.kind === "block_causal") {
    const b = mask.block;
    // i32 division truncates toward zero, so a negative pos is answered by the select, not the division.
    end = `select(min(${tk}, ((i + ${shift}) / ${b} + 1) * ${b}), 0, i + ${shift} < 0)`;
    start = `clamp((j / ${b}) * ${b} - ${shift}, 0, ${tq})`;
  } else if (mask.kind === "padding") {
    end = "lim";
    start = `select(${tq}, 0, j < lim)`;
  }
  const lenAt = (idx: string) =>
    len!.dtype === "u32" ? `i32(min(${len!.name}[${idx}], ${tk}u))` : `clamp(${len!.name}[${idx}], 0, ${tk})`;
  const lim = mask.kind === "padding" ? lenAt(`bh / ${dims.perFirst}`) : `${tk}`;
  const fns = `fn key_end(i: i32, lim: i32) -> i32 { return ${end}; }
fn query_start(j: i32, lim: i32) -> i32 { return ${start}; }
`;
  return { lim, fns };
}

/** How a kernel spreads rows: `wg` invocations per workgroup, `r` rows per invocation. */
interface Layout {
  readonly wg: number;
  readonly r: number;
}

/**
 * Rows per invocation on a CPU adapter. llvmpipe compiles a kernel of r = 1 in about a second and one of
 * r = 4 in 2–15 s (D 32, measured; the backward ones, with more registers per row, take longest), while
 * r = 4 runs 2–3× faster than r = 1 (B·H 32, T 128). Attention large enough for "auto" to pick flash
 * (passes/choose-attention.ts) takes r = 4, since its run time pays for the one-time compile (the driver
 * caches it on disk); smaller attention (tests, forced flash) takes r = 1. GPUs: 64 invocations of one
 * row. `rows` (CompileOptions.attentionRows) overrides the choice.
 */
function layout(limits: DeviceLimits, dims: AttentionDims, rows: number | undefined): Layout {
  if (limits.adapterKind !== "cpu") return { wg: 64, r: rows ?? 1 };
  return { wg: 8, r: rows ?? (dims.bh * dims.tq * dims.tk * 4 > FLASH_MIN_SCORE_BYTES ? 4 : 1) };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Shared head of the kernels: problem `bh`, this invocation's rows `${n}u{k}` (unclamped) and `${n}{k}`
 *  (clamped, for loads), the workgroup's first and last row, and the mask prefix's `lim`. */
function entry(lay: Layout, rows: number, dims: AttentionDims, g: { linear: string }, lim: string, n: string): string {
  const span = lay.wg * lay.r;
  const blocks = Math.ceil(rows / span);
  const own = range(lay.r).map(
    (k) => `let ${n}u${k} = ${n}first + ${k * lay.wg} + i32(lid);\n  let ${n}${k} = min(${n}u${k}, ${rows - 1});`,
  );
  return `@compute @workgroup_size(${lay.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lin = i32(${g.linear});
  let bh = lin / ${blocks};
  if (bh >= ${dims.bh}) { return; }
  let ${n}first = (lin % ${blocks}) * ${span};
  let ${n}last = min(${n}first + ${span - 1}, ${rows - 1});
  let lim = ${lim};
  ${own.join("\n  ")}`;
}

function kernelName(node: Node, dims: AttentionDims, lay: Layout): string {
  const m = dims.mask.kind === "block_causal" ? `block_causal${dims.mask.block}` : dims.mask.kind;
  return `${node.op}_${m}_${[...dims.lead, dims.tq, dims.tk, dims.d, dims.dv].join("x")}_r${lay.r}`;
}

const workgroups = (dims: AttentionDims, rows: number, lay: Layout, limits: DeviceLimits) =>
  grid(dims.bh * Math.ceil(rows / (lay.wg * lay.r)), limits);

/** flash_attention (out O) or attention_lse (out lse): online softmax over the keys. */
function forwardKernel(node: Node, ins: readonly Node[], limits: DeviceLimits, rows?: number): KernelSource {
  const withValues = node.op === "flash_attention";
  const [q, k] = ins;
  const v = withValues ? ins[2] : undefined;
  const lenNode = ins[withValues ? 3 : 2];
  const dims = attentionDims(q.shape, k.shape, v ? v.shape[v.shape.length - 1] : 0, node.attrs);
  const { tq, tk, d, dv } = dims;
  const Q = operand("q", q.dtype, d);
  const K = operand("k", k.dtype, d);
  const V = v ? operand("v", v.dtype, dv) : undefined;
  const len: Binding | undefined = lenNode ? { name: "len", dtype: lenNode.dtype, access: "read" } : undefined;
  const out = output(node.dtype, V ? [dv] : [1]);
  const bindings = [Q.b, K.b, ...(V ? [V.b] : []), ...(len ? [len] : []), out];
  const lay = layout(limits, dims, rows);
  const g = workgroups(dims, tq, lay, limits);
  const { lim, fns } = maskCode(dims, len);
  const qc = chunks(d);
  const vc = chunks(dv);
  const rs = range(lay.r);
  const scale = literal(dims.scale, "f32");
  const head: string[] = [];
  const body: string[] = [...qc.map((c) => `let k${c} = ${chunk(K, "kr", c)};`)];
  for (const r of rs) {
    head.push(`let end${r} = key_end(i${r}, lim);`, `let row${r} = bh * ${tq} + i${r};`);
    head.push(...qc.map((c) => `let q${r}_${c} = ${chunk(Q, `row${r}`, c)} * ${scale};`));
    head.push(`var m${r} = ${literal(BELOW, "f32")};`, `var l${r} = 0.0;`);
    if (V) head.push(...vc.map((c) => `var a${r}_${c} = vec4<f32>(0.0);`));
    body.push(
      ...dotLines(
        `t${r}`,
        qc.length,
        (c) => `q${r}_${c}`,
        (c) => `k${c}`,
      ),
    );
    body.push(
      `let s${r} = select(${literal(MASKED_SCORE, "f32")}, t${r}, j < end${r});`,
      // One exp: a key above the running max rescales the old sum by e and weighs 1; otherwise it weighs e.
      `let e${r} = exp(-abs(s${r} - m${r}));`,
      `let up${r} = s${r} > m${r};`,
      `let corr${r} = select(1.0, e${r}, up${r});`,
      `let p${r} = select(e${r}, 1.0, up${r});`,
      `m${r} = max(m${r}, s${r});`,
      `l${r} = fma(l${r}, corr${r}, p${r});`,
    );
  }
  if (V) {
    body.push(...vc.map((c) => `let v${c} = ${chunk(V, "kr", c)};`));
    for (const r of rs)
      body.push(...vc.map((c) => `a${r}_${c} = fma(vec4<f32>(p${r}), v${c}, a${r}_${c} * corr${r});`));
  }
  const finish = rs.map((r) =>
    V
      ? `if (iu${r} < ${tq}) {\n    let inv${r} = 1.0 / l${r};\n    ` +
        `${storeRow(out, `row${r} * ${dv}`, dv, (c) => `(a${r}_${c} * inv${r})`).join("\n    ")}\n  }`
      : `if (iu${r} < ${tq}) { ` +
        `${store(out, `row${r}`, `select(m${r} + log(l${r}), ${literal(Math.log(tk), "f32")}, end${r} == 0)`)} }`,
  );
  const code = `${header(bindings)}
${fns}
${entry(lay, tq, dims, g, lim, "i")}
  let kb = bh * ${tk};
  var jend = key_end(ilast, lim);
  ${V ? `if (key_end(ifirst, lim) == 0) { jend = ${tk}; } // a fully masked row averages every value` : ""}
  ${head.join("\n  ")}
  for (var j = 0; j < jend; j++) {
    let kr = kb + j;
    ${body.join("\n    ")}
  }
  ${finish.join("\n  ")}
}
`;
  return { name: kernelName(node, dims, lay), code, workgroups: g.workgroups, bindings };
}

/** attention_dq (query rows per invocation) or attention_dkv (key rows per invocation). */
function backwardKernel(node: Node, ins: readonly Node[], limits: DeviceLimits, rows?: number): KernelSource {
  const [q, k, v, dO, , , lenNode] = ins;
  const dims = attentionDims(q.shape, k.shape, v.shape[v.shape.length - 1], node.attrs);
  const { tq, tk, d, dv } = dims;
  const Q = operand("q", q.dtype, d);
  const K = operand("k", k.dtype, d);
  const V = operand("v", v.dtype, dv);
  const G = operand("dout", dO.dtype, dv);
  const lse: Binding = { name: "lse", dtype: "f32", access: "read" };
  const delta: Binding = { name: "delta", dtype: "f32", access: "read" };
  const len: Binding | undefined = lenNode ? { name: "len", dtype: lenNode.dtype, access: "read" } : undefined;
  const out = output(node.dtype, node.op === "attention_dq" ? [d] : [d, dv]);
  const bindings = [Q.b, K.b, V.b, G.b, lse, delta, ...(len ? [len] : []), out];
  const { lim, fns } = maskCode(dims, len);
  const qc = chunks(d);
  const vc = chunks(dv);
  const lay = layout(limits, dims, rows);
  const rs = range(lay.r);
  const scale = literal(dims.scale, "f32");
  const vec = (x: string) => `vec4<f32>(${x})`;
  const lines = (xs: string[], indent: string) => xs.join(`\n${indent}`);
  if (node.op === "attention_dq") {
    const g = workgroups(dims, tq, lay, limits);
    const head: string[] = [];
    const body: string[] = [];
    for (const r of rs) {
      head.push(`let end${r} = key_end(i${r}, lim);`, `let row${r} = bh * ${tq} + i${r};`);
      head.push(...qc.map((c) => `let q${r}_${c} = ${chunk(Q, `row${r}`, c)} * ${scale};`));
      head.push(...vc.map((c) => `let o${r}_${c} = ${chunk(G, `row${r}`, c)};`));
      head.push(
        `let lse${r} = lse[row${r}];`,
        `let delta${r} = delta[row${r}];`,
        ...qc.map((c) => `var g${r}_${c} = vec4<f32>(0.0);`),
      );
      body.push(
        ...dotLines(
          `s${r}`,
          qc.length,
          (c) => `q${r}_${c}`,
          (c) => `k${c}`,
        ),
      );
      body.push(`let p${r} = select(0.0, exp(s${r} - lse${r}), j < end${r});`);
      body.push(
        ...dotLines(
          `dp${r}`,
          vc.length,
          (c) => `o${r}_${c}`,
          (c) => `v${c}`,
        ),
      );
      body.push(
        `let ds${r} = p${r} * (dp${r} - delta${r});`,
        ...qc.map((c) => `g${r}_${c} = fma(${vec(`ds${r}`)}, k${c}, g${r}_${c});`),
      );
    }
    const code = `${header(bindings)}
${fns}
${entry(lay, tq, dims, g, lim, "i")}
  let kb = bh * ${tk};
  let jend = key_end(ilast, lim);
  ${lines(head, "  ")}
  for (var j = 0; j < jend; j++) {
    let kr = kb + j;
    ${lines(
      [...qc.map((c) => `let k${c} = ${chunk(K, "kr", c)};`), ...vc.map((c) => `let v${c} = ${chunk(V, "kr", c)};`)],
      "    ",
    )}
    ${lines(body, "    ")}
  }
  ${rs
    .map(
      (r) =>
        `if (iu${r} < ${tq}) {\n    ${lines(
          storeRow(out, `row${r} * ${d}`, d, (c) => `(g${r}_${c} * ${scale})`),
          "    ",
        )}\n  }`,
    )
    .join("\n  ")}
}
`;
    return { name: kernelName(node, dims, lay), code, workgroups: g.workgroups, bindings };
  }
  const g = workgroups(dims, tk, lay, limits);
  const head: string[] = [];
  const body: string[] = [];
  for (const r of rs) {
    head.push(`let kr${r} = bh * ${tk} + j${r};`);
    head.push(
      ...qc.map((c) => `let k${r}_${c} = ${chunk(K, `kr${r}`, c)};`),
      ...vc.map((c) => `let v${r}_${c} = ${chunk(V, `kr${r}`, c)};`),
    );
    head.push(...qc.map((c) => `var gk${r}_${c} = vec4<f32>(0.0);`), ...vc.map((c) => `var gv${r}_${c} = f${c};`));
    body.push(
      ...dotLines(
        `s${r}`,
        qc.length,
        (c) => `q${c}`,
        (c) => `k${r}_${c}`,
      ),
    );
    body.push(
      `let p${r} = select(0.0, exp(s${r} - lse_i), j${r} < e);`,
      ...vc.map((c) => `gv${r}_${c} = fma(${vec(`p${r}`)}, o${c}, gv${r}_${c});`),
    );
    body.push(
      ...dotLines(
        `dp${r}`,
        vc.length,
        (c) => `o${c}`,
        (c) => `v${r}_${c}`,
      ),
    );
    body.push(
      `let ds${r} = p${r} * (dp${r} - delta_i);`,
      ...qc.map((c) => `gk${r}_${c} = fma(${vec(`ds${r}`)}, q${c}, gk${r}_${c});`),
    );
  }
  const code = `${header(bindings)}
${fns}
${entry(lay, tk, dims, g, lim, "j")}
  let qb = bh * ${tq};
  // Leading rows that see no key (query_start(0)) average all values: each adds dO_i / tk to every dV_j.
  ${vc.map((c) => `var f${c} = vec4<f32>(0.0);`).join("\n  ")}
  for (var i = 0; i < query_start(0, lim); i++) {
    ${vc.map((c) => `f${c} += ${chunk(G, "qb + i", c)};`).join("\n    ")}
  }
  ${vc.map((c) => `f${c} = f${c} * ${literal(1 / tk, "f32")};`).join("\n  ")}
  ${lines(head, "  ")}
  for (var i = query_start(jfirst, lim); i < ${tq}; i++) {
    let row = qb + i;
    let e = key_end(i, lim);
    let lse_i = lse[row];
    let delta_i = delta[row];
    ${lines(
      [
        ...qc.map((c) => `let q${c} = ${chunk(Q, "row", c)} * ${scale};`),
        ...vc.map((c) => `let o${c} = ${chunk(G, "row", c)};`),
      ],
      "    ",
    )}
    ${lines(body, "    ")}
  }
  ${rs
    .map(
      (r) =>
        `if (ju${r} < ${tk}) {\n    ${lines(
          [
            ...storeRow(out, `kr${r} * ${d + dv}`, d, (c) => `gk${r}_${c}`),
            ...storeRow(out, `kr${r} * ${d + dv} + ${d}`, dv, (c) => `gv${r}_${c}`),
          ],
          "    ",
        )}\n  }`,
    )
    .join("\n  ")}
}
`;
  return { name: kernelName(node, dims, lay), code, workgroups: g.workgroups, bindings };
}

/** The kernel of a flash-attention op; inputs bind in the op's input order, then the output. `rows`
 *  forces the rows per invocation (see layout). */
export function attentionKernel(node: Node, ins: readonly Node[], limits: DeviceLimits, rows?: number): KernelSource {
  switch (node.op) {
    case "flash_attention":
    case "attention_lse":
      return forwardKernel(node, ins, limits, rows);
    case "attention_dq":
    case "attention_dkv":
      return backwardKernel(node, ins, limits, rows);
    default:
      bug(`${node.op} is not a flash-attention op`);
  }
}
