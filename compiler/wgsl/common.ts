// common.ts: pieces every kernel family shares — binding declarations, typed loads and stores (f16 is
// stored as f16 and computed as f32; bool is stored as u32), and the dispatch grid, which folds
// workgroup counts past the per-dimension limit into y and z.
import { type DType, isFloat, storageType } from "../dtype.js";
import type { DeviceLimits } from "../limits.js";

export interface Binding {
  readonly name: string;
  readonly dtype: DType;
  readonly access: "read" | "read_write";
  /** Elements per array entry: 4 binds the buffer as array<vec4<…>> (aligned vector loads). */
  readonly vec?: 1 | 4;
}

/** A kernel as plain data: WGSL text with shapes baked in, and its dispatch. */
export interface KernelSource {
  readonly name: string; // after the IR ops it runs, e.g. "matmul_64x96x128"
  readonly code: string;
  readonly workgroups: readonly [number, number, number];
  readonly bindings: readonly Binding[];
}

export function header(bindings: readonly Binding[]): string {
  const f16 = bindings.some((b) => b.dtype === "f16");
  const decls = bindings.map((b, i) => {
    const el = b.vec === 4 ? `vec4<${storageType(b.dtype)}>` : storageType(b.dtype);
    return `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${el}>;`;
  });
  return `${f16 ? "enable f16;\n" : ""}${decls.join("\n")}\n`;
}

/** Loads element `idx` of a binding as its compute type (f32, i32, u32 or bool). */
export function load(b: Binding, idx: string): string {
  if (b.dtype === "f16") return `f32(${b.name}[${idx}])`;
  if (b.dtype === "bool") return `(${b.name}[${idx}] != 0u)`;
  return `${b.name}[${idx}]`;
}

/** Stores a compute-type value into element `idx` of a binding. */
export function store(b: Binding, idx: string, value: string): string {
  if (b.dtype === "f16") return `${b.name}[${idx}] = f16(${value});`;
  if (b.dtype === "bool") return `${b.name}[${idx}] = select(0u, 1u, ${value});`;
  return `${b.name}[${idx}] = ${value};`;
}

/** WGSL type a value of `dtype` has inside a kernel. */
export const computeType = (t: DType): string => (isFloat(t) ? "f32" : t === "bool" ? "bool" : t);

export interface Grid {
  readonly workgroups: [number, number, number];
  /** WGSL expression of the linear workgroup index, given `wid: vec3<u32>`. */
  readonly linear: string;
}

/** Lays `count` workgroups out as x·y·z within the per-dimension limit. */
export function grid(count: number, limits: DeviceLimits): Grid {
  const max = limits.maxComputeWorkgroupsPerDimension;
  const c = Math.max(1, count);
  if (c <= max) return { workgroups: [c, 1, 1], linear: "wid.x" };
  const y = Math.ceil(c / max);
  if (y <= max) return { workgroups: [max, y, 1], linear: `(wid.x + wid.y * ${max}u)` };
  const z = Math.ceil(y / max);
  return { workgroups: [max, max, z], linear: `(wid.x + (wid.y + wid.z * ${max}u) * ${max}u)` };
}

/** Coordinates of a row-major flat index as WGSL lets: c0 … c{r-1} (i32). */
export function unravelCode(flat: string, shape: readonly number[], prefix = "c"): string {
  const lines: string[] = [];
  if (shape.length === 0) return "";
  lines.push(`var rem_${prefix} = ${flat};`);
  for (let k = shape.length - 1; k >= 0; k--) {
    if (k === 0) lines.push(`let ${prefix}${k} = rem_${prefix};`);
    else {
      lines.push(`let ${prefix}${k} = rem_${prefix} % ${shape[k]};`);
      lines.push(`rem_${prefix} = rem_${prefix} / ${shape[k]};`);
    }
  }
  return lines.join("\n  ");
}

/** Σ coords[k]·strides[k] + offset as a WGSL i32 expression, skipping zero strides. */
export function affineIndex(offset: number, strides: readonly number[], prefix = "c"): string {
  const terms = strides
    .map((s, k) => (s === 0 ? "" : s === 1 ? `${prefix}${k}` : `${prefix}${k} * ${s}`))
    .filter(Boolean);
  if (offset !== 0 || terms.length === 0) terms.unshift(String(offset));
  return terms.join(" + ");
}

export const WG = 256;

/** Elements each invocation handles in element-parallel kernels: on a CPU adapter an invocation is a
 *  loop iteration with fixed overhead, so large kernels take 16 elements each (measured on llvmpipe:
 *  y = x + z on 4 M floats, 0.85 GB/s at one element per invocation, 2.4 GB/s at 16). */
export function elementsPerInvocation(n: number): number {
  return n >= 16 * WG * 16 ? 16 : 1;
}

/** An element-parallel entry point: `body` runs once per flat index `i` (i32) below `n`. */
export function elementLoop(
  n: number,
  limits: DeviceLimits,
  body: string,
): { main: string; workgroups: [number, number, number] } {
  const ept = elementsPerInvocation(n);
  const g = grid(Math.ceil(n / (WG * ept)), limits);
  const index = ept === 1 ? `${g.linear} * ${WG}u + lid` : `(${g.linear} * ${ept}u + k) * ${WG}u + lid`;
  const inner = `let i = i32(${index});\n    if (i < ${n}) {\n      ${body.split("\n").join("\n    ")}\n    }`;
  const main = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${ept === 1 ? `{\n    ${inner}\n  }` : `for (var k = 0u; k < ${ept}u; k++) {\n    ${inner}\n  }`}
}
`;
  return { main, workgroups: g.workgroups };
}
