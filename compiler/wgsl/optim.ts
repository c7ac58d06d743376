// optim.ts: kernels of the optimizer's ops (ops/optim.ts), each covering several tensors per dispatch.
// WGSL cannot index bindings at run time, so every tensor gets a branch of its own, with its length
// baked in (locals end in _ or _new: bindings are named p0, m1, v2 …); program.ts decides how many
// tensors one dispatch binds from the device's limit.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { prod } from "../shape.js";
import { type Binding, type KernelSource, elementLoop, header, load, store } from "./common.js";
import { literal } from "./helpers.js";

/** Threads per tensor in sum_squares: a strided loop, then a tree in workgroup memory. */
const SS_WG = 256;

/**
 * Σ x² of each input into out[offset + k], one workgroup per input (inputs of a dispatch are
 * independent, so they run side by side). Fixed order of summation: the step is deterministic.
 */
export function sumSquaresKernel(xs: readonly Node[], offset: number): KernelSource {
  const ins: Binding[] = xs.map((x, k) => ({ name: `in${k}`, dtype: x.dtype, access: "read" }));
  const out: Binding = { name: "out", dtype: "f32", access: "read_write" };
  const cases = xs.map((x, k) => {
    const n = prod(x.shape);
    return `    case ${k}u: {
      for (var j = i32(lid); j < ${n}; j += ${SS_WG}) { let x = ${load(ins[k], "j")}; acc += x * x; }
    }`;
  });
  const code = `${header([...ins, out])}
var<workgroup> part: array<f32, ${SS_WG}>;

@compute @workgroup_size(${SS_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  switch wid.x {
${cases.join("\n")}
    default: {}
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${SS_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { ${store(out, `${offset} + i32(wid.x)`, "part[0]")} }
}
`;
  return { name: `sum_squares_${xs.length}_at${offset}`, code, workgroups: [xs.length, 1, 1], bindings: [...ins, out] };
}

export interface AdamWMember {
  readonly param: Node; // p (m and v share its dtype and shape)
  readonly grad: Node;
  readonly decays: boolean;
}

export interface AdamWConstants {
  readonly beta1: number;
  readonly beta2: number;
  readonly clipNorm: number;
}

/** Bindings per parameter of the multi-tensor AdamW kernel (p, m, v written in place; g), and the
 *  scalars every dispatch binds first (norm, step size, ε̂, decay). */
export const ADAMW_BINDINGS_PER_PARAM = 4;
export const ADAMW_SHARED_BINDINGS = 4;

/** Parameters one dispatch updates within the device's storage-buffer limit (3 at 16, 1 at WebGPU's
 *  minimum of 8; 0 below it, where adamw is lowered to primitives instead). */
export const adamwPerDispatch = (limits: DeviceLimits): number =>
  Math.max(0, Math.floor((limits.maxStorageBuffersPerShaderStage - ADAMW_SHARED_BINDINGS) / ADAMW_BINDINGS_PER_PARAM));

/**
 * AdamW for several parameters in one dispatch, in place: invocation i updates element i of the
 * concatenation of the members. The same f32 operations, in the same order, as `adamwPrimitives`
 * fused into one kernel; a non-finite global norm leaves p, m and v as they were.
 */
export function adamwKernel(members: readonly AdamWMember[], c: AdamWConstants, limits: DeviceLimits): KernelSource {
  const f = (x: number): string => literal(x, "f32");
  const shared: Binding[] = ["s_norm", "s_step", "s_eps", "s_decay"].map((name) => ({
    name,
    dtype: "f32",
    access: "read",
  }));
  const own = members.map((mb, k): Binding[] => [
    ...["p", "m", "v"].map((s): Binding => ({ name: `${s}${k}`, dtype: mb.param.dtype, access: "read_write" })),
    { name: `g${k}`, dtype: mb.grad.dtype, access: "read" },
  ]);
  let start = 0;
  const branches = members.map((mb, k) => {
    const [p, m, v, g] = own[k];
    const lo = start;
    start += prod(mb.param.shape);
    return `if (i < ${start}) {
  let j = i - ${lo};
  let p_ = ${load(p, "j")};
  let m_ = ${load(m, "j")};
  let v_ = ${load(v, "j")};
  let g_ = ${load(g, "j")} * scale;
  let m_new = m_ * ${f(c.beta1)} + g_ * ${f(1 - c.beta1)};
  let v_new = v_ * ${f(c.beta2)} + (g_ * g_) * ${f(1 - c.beta2)};
  let adam = (m_new * step) / (sqrt(v_new) + eps);
  let p_new = ${mb.decays ? "(p_ - adam) - p_ * decay" : "p_ - adam"};
  ${store(p, "j", "select(p_, p_new, ok)")}
  ${store(m, "j", "select(m_, m_new, ok)")}
  ${store(v, "j", "select(v_, v_new, ok)")}
}`;
  });
  const body = `let norm = s_norm[0];
// WGSL lets the compiler assume no NaNs, so norm != norm may fold away; test the exponent bits instead.
let ok = (bitcast<u32>(norm) & 0x7f800000u) != 0x7f800000u;
let scale = ${Number.isFinite(c.clipNorm) ? `min(${f(1)}, ${f(c.clipNorm)} / (norm + ${f(1e-6)}))` : f(1)};
let step = s_step[0];
let eps = s_eps[0];
let decay = s_decay[0];
${branches.join(" else ")}`;
  const bindings = [...shared, ...own.flat()];
  const { main, workgroups } = elementLoop(start, limits, body);
  const sizes = members.map((mb) => prod(mb.param.shape)).join("_");
  return { name: `adamw_${members.length}x_${sizes}`, code: `${header(bindings)}\n${main}`, workgroups, bindings };
}
