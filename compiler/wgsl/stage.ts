// stage.ts: a kernel's WGSL as a stage of a sequence kernel (compiler/sequence.ts). Every kernel family
// emits the same frame — an optional `enable f16;`, storage bindings, module-scope helpers, and an entry
// point `main` taking builtins — so a kernel can be read back into its parts: the helpers and `main` as
// plain functions (the builtins become parameters), renamed so that several stages live in one module,
// with their bindings pointing at the sequence's. A stage that binds a buffer as array<vec4<…>> while
// another stage binds the same buffer per element reads and writes it through helpers instead, since one
// buffer may not be bound twice when either binding is writable.
import { storageType } from "../dtype.js";
import { peelOffset, rewriteAccesses } from "./accesses.js";
import type { Binding, KernelSource } from "./common.js";

export type Builtin =
  | "workgroup_id"
  | "local_invocation_id"
  | "local_invocation_index"
  | "global_invocation_id"
  | "num_workgroups";
const BUILTINS = new Set<string>([
  "workgroup_id",
  "local_invocation_id",
  "local_invocation_index",
  "global_invocation_id",
  "num_workgroups",
]);

export interface Stage {
  readonly kernel: KernelSource;
  /** the workgroup size, x·y·z = threads */
  readonly size: readonly [number, number, number];
  readonly threads: number;
  /** main's parameters, in order */
  readonly builtins: readonly Builtin[];
  /** module scope without directives, bindings and the entry attributes; main's builtins are plain parameters */
  readonly code: string;
  /** names declared at module scope, main included (renamed per stage) */
  readonly names: readonly string[];
  /** uses workgroup barriers: every invocation of a workgroup must call it together */
  readonly barriers: boolean;
  readonly workgroupBytes: number;
  /** the workgroup variables, as declared */
  readonly workgroupVars: readonly { readonly name: string; readonly type: string; readonly bytes: number }[];
  readonly f16: boolean;
}

const SCALAR_BYTES: Readonly<Record<string, number>> = { f32: 4, i32: 4, u32: 4, f16: 2, bool: 4 };

/** Bytes of a workgroup variable's type (scalars, vectors and fixed arrays of them), or undefined. */
function typeBytes(type: string): number | undefined {
  const t = type.replace(/\s+/g, "");
  if (t in SCALAR_BYTES) return SCALAR_BYTES[t];
  const vec = /^vec([234])<(\w+)>$/.exec(t);
  if (vec) return (SCALAR_BYTES[vec[2]] ?? Number.NaN) * (vec[1] === "3" ? 4 : Number(vec[1]));
  const arr = /^array<(.+),(\d+)u?>$/.exec(t);
  if (arr) {
    const el = typeBytes(arr[1]);
    return el === undefined ? undefined : el * Number(arr[2]);
  }
  return undefined;
}

/** The kernel as a stage, or undefined when its WGSL is not of the shape every family emits. */
export function parseStage(kernel: KernelSource): Stage | undefined {
  let code = kernel.code;
  if (/subgroup|arrayLength|workgroupUniformLoad/.test(code)) return undefined;
  const f16 = /^enable f16;\s*$/m.test(code);
  code = code.replace(/^enable [\w, ]+;\s*$/gm, "").replace(/^@group\(0\) @binding\(\d+\) var<storage.*$/gm, "");
  const entry = /^@compute @workgroup_size\((\d+)(?:,\s*(\d+))?(?:,\s*(\d+))?\)\s*$/m.exec(code);
  if (!entry) return undefined;
  const size = [Number(entry[1]), Number(entry[2] ?? 1), Number(entry[3] ?? 1)] as const;
  code = code.replace(entry[0], "");
  const sig = /^fn main\((.*)\)\s*\{[ \t]*$/m.exec(code);
  if (!sig) return undefined;
  const builtins: Builtin[] = [];
  const params: string[] = [];
  for (const p of sig[1]
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^@builtin\((\w+)\)\s*(\w+)\s*:\s*([\w<>]+)$/.exec(p);
    if (!m || !BUILTINS.has(m[1])) return undefined;
    builtins.push(m[1] as Builtin);
    params.push(`${m[2]}: ${m[3]}`);
  }
  code = code.replace(sig[0], `fn main(${params.join(", ")}) {`);
  if (code.includes("@")) return undefined; // an attribute this reader does not know
  const names = ["main"];
  const workgroupVars: { name: string; type: string; bytes: number }[] = [];
  for (const m of code.matchAll(/^(?:fn|const|alias|struct|override)\s+(\w+)/gm)) if (m[1] !== "main") names.push(m[1]);
  for (const m of code.matchAll(/^var(?:<(\w+)>)?\s+(\w+)\s*:\s*([^;=]+)/gm)) {
    if (m[1] !== "workgroup") return undefined; // private module-scope state would leak between stages
    const bytes = typeBytes(m[3]);
    if (bytes === undefined || Number.isNaN(bytes)) return undefined;
    workgroupVars.push({ name: m[2], type: m[3].replace(/\s+/g, ""), bytes });
    names.push(m[2]);
  }
  const workgroupBytes = workgroupVars.reduce((a, v) => a + v.bytes, 0);
  const barriers = /\b(workgroupBarrier|storageBarrier)\s*\(/.test(code);
  const threads = size[0] * size[1] * size[2];
  return { kernel, size, threads, builtins, code: code.trim(), names, barriers, workgroupBytes, workgroupVars, f16 };
}

/** Replaces whole identifiers (not member names after a dot) by `map`, in one pass. */
export function renameIdentifiers(code: string, map: ReadonlyMap<string, string>): string {
  if (map.size === 0) return code;
  const keys = [...map.keys()].sort((a, b) => b.length - a.length);
  const re = new RegExp(`(?<![\\w.])(${keys.join("|")})(?!\\w)`, "g");
  return code.replace(re, (m) => map.get(m)!);
}

/**
 * Rewrites every `name[i]` of a vec4 binding into `load(i32(i))`, and every `name[i] = v;` into
 * `store(i32(i), v);` — for a binding the sequence declares per element. Undefined where an access is
 * anything else (a compound assignment, a component store, a pointer).
 */
export function vec4Accesses(code: string, name: string, load: string, store: string): string | undefined {
  return rewriteAccesses(code, name, load, store, "i32");
}

/** Helpers that read and write a per-element binding four elements at a time. */
export function vec4Helpers(b: Binding, name: string, writes: boolean): string {
  const el = storageType(b.dtype);
  const at = (k: number): string => `${name}[j + ${k}]`;
  const load = `fn ${name}_ld4(i: i32) -> vec4<${el}> {
  let j = 4 * i;
  return vec4<${el}>(${[0, 1, 2, 3].map(at).join(", ")});
}`;
  if (!writes) return load;
  const parts = ["x", "y", "z", "w"].map((c, k) => `${at(k)} = v.${c};`).join(" ");
  return `${load}
fn ${name}_st4(i: i32, v: vec4<${el}>) {
  let j = 4 * i;
  ${parts}
}`;
}

/** Helpers `fn_ld(i)` and `fn_st(i, v)` that read and write element i of a binding kept in an arena bound
 *  as array<u32> (compiler/arenas.ts): `base` (a WGSL u32 expression) words in, each element by bitcast, a
 *  vec4 as four words. */
export function memberHelpers(b: Binding, fn: string, arena: string, base: string, writes: boolean): string {
  const el = storageType(b.dtype);
  if (b.vec !== 4) {
    const load = `fn ${fn}_ld(i: u32) -> ${el} {\n  return bitcast<${el}>(${arena}[${base} + i]);\n}`;
    if (!writes) return load;
    return `${load}\nfn ${fn}_st(i: u32, v: ${el}) {\n  ${arena}[${base} + i] = bitcast<u32>(v);\n}`;
  }
  const words = [0, 1, 2, 3].map((k) => `${arena}[j + ${k}u]`);
  const load = `fn ${fn}_ld(i: u32) -> vec4<${el}> {
  let j = ${base} + 4u * i;
  return bitcast<vec4<${el}>>(vec4<u32>(${words.join(", ")}));
}`;
  if (!writes) return load;
  const stores = words.map((w, k) => `${w} = u.${"xyzw"[k]};`).join(" ");
  return `${load}
fn ${fn}_st(i: u32, v: vec4<${el}>) {
  let j = ${base} + 4u * i;
  let u = bitcast<vec4<u32>>(v);
  ${stores}
}`;
}

/** A stage with constant index offsets taken out of some bindings (`which`), and the words each of its
 *  bindings' offsets must grow by instead: a binding reached through an offset table (an arena member)
 *  can start K elements later rather than every index adding K, so the slices of a scan's steps, each at
 *  its own offset, become one stage. */
export interface PeeledStage {
  readonly stage: Stage;
  readonly extra: readonly number[];
}

export function peelStage(stage: Stage, which: (binding: number) => boolean): PeeledStage {
  let code = stage.code;
  const extra = stage.kernel.bindings.map((b, i) => {
    const p = which(i) ? peelOffset(code, b.name) : undefined;
    if (p === undefined) return 0;
    code = p.code;
    return p.offset * (b.vec === 4 ? 4 : 1);
  });
  return { stage: code === stage.code ? stage : { ...stage, code }, extra };
}
