// windows.ts: a kernel that binds a tensor larger than one binding may be (maxStorageBufferBindingSize) but
// within one buffer (maxBufferSize). The binding becomes several bindings of the same buffer — windows at
// offsets a multiple of 256 bytes, which every adapter accepts (minStorageBufferOffsetAlignment is at most
// 256 by the WebGPU spec) — and every access of the kernel goes through a function that picks the window
// from the index. It is a rewrite of the kernel's text, so every kernel family gets windows alike: a
// binding is only ever used as `name[index]`, `name[index] = value;` or `arrayLength(&name)`.
import { bug } from "../../base/errors.js";
import { bufferBytes } from "../dtype.js";
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { prod } from "../shape.js";
import { rewriteAccesses } from "./accesses.js";
import type { Binding, KernelSource } from "./common.js";

/** Offsets of storage bindings are a multiple of this on every adapter. */
export const WINDOW_ALIGN = 256;

/** Bytes of one window: the largest multiple of the alignment a binding may span. */
export const windowBytes = (maxBinding: number): number => Math.floor(maxBinding / WINDOW_ALIGN) * WINDOW_ALIGN;

/** How many windows a buffer of `bytes` needs (1: bound whole). */
export const windowCount = (bytes: number, maxBinding: number): number =>
  bytes <= maxBinding ? 1 : Math.ceil(bytes / windowBytes(maxBinding));

/** Storage bindings a kernel spends on these values: one each, or one per window past the binding size. */
export const bindingSlots = (values: Iterable<Node>, limits: DeviceLimits): number =>
  [...values].reduce(
    (sum, n) => sum + windowCount(bufferBytes(n.dtype, prod(n.shape)), limits.maxStorageBufferBindingSize),
    0,
  );

const ENTRY_BYTES: Readonly<Record<string, number>> = {
  f32: 4,
  i32: 4,
  u32: 4,
  f16: 2,
  "vec4<f32>": 16,
  "vec4<i32>": 16,
  "vec4<u32>": 16,
  "vec4<f16>": 8,
};

const DECL = /^@group\(0\) @binding\((\d+)\) var<storage, (\w+)> (\w+): array<(.+)>;$/gm;

/**
 * `kernel` with binding k split into `counts[k]` windows of `bytes` each (the last one shorter); its
 * bindings, in order, are then the windows of each binding in turn, named `name_w0`, `name_w1`, ….
 */
export function windowKernel(kernel: KernelSource, counts: readonly number[], bytes: number): KernelSource {
  if (counts.length !== kernel.bindings.length) bug(`${kernel.name}: window counts do not match its bindings`);
  if (counts.every((c) => c === 1)) return kernel;
  const decls = [...kernel.code.matchAll(DECL)];
  if (decls.length !== counts.length)
    bug(`${kernel.name}: ${decls.length} binding declarations, ${counts.length} bindings`);
  const accessors: string[] = [];
  const bindings: Binding[] = [];
  let slot = 0;
  let code = kernel.code;
  decls.forEach((d, k) => {
    const [line, , access, name, entry] = d;
    const n = counts[k];
    const windows = n === 1 ? [name] : Array.from({ length: n }, (_, w) => `${name}_w${w}`);
    const lines = windows.map((w) => `@group(0) @binding(${slot++}) var<storage, ${access}> ${w}: array<${entry}>;`);
    code = code.replace(line, lines.join("\n"));
    bindings.push(...windows.map((w) => ({ ...kernel.bindings[k], name: w })));
    if (n === 1) return;
    const size = ENTRY_BYTES[entry] ?? bug(`${kernel.name}: no entry size for array<${entry}>`);
    if (bytes % size !== 0) bug(`a window of ${bytes} bytes splits an entry of ${size}`);
    accessors.push(accessorSource(name, entry, access === "read_write", n, bytes / size));
    code = throughWindows(code, name, kernel.name);
  });
  code = insertAfterDeclarations(code, accessors.join("\n"));
  return { ...kernel, name: `${kernel.name}_windowed`, code, bindings };
}

/** `name_at(i)` (and `name_put(i, v)` for a writable binding) over windows of `entries` entries each. */
function accessorSource(name: string, entry: string, writable: boolean, n: number, entries: number): string {
  const pick = (body: (w: number, idx: string) => string): string[] =>
    Array.from({ length: n }, (_, w) => {
      const idx = w === 0 ? "i" : `i - ${w * entries}u`;
      return w === n - 1 ? `  ${body(w, idx)}` : `  if (w == ${w}u) { ${body(w, idx)} }`;
    });
  const get = [
    `fn ${name}_at(i: u32) -> ${entry} {`,
    `  let w = i / ${entries}u;`,
    ...pick((w, idx) => `return ${name}_w${w}[${idx}];`),
    "}",
  ];
  const put = [
    `fn ${name}_put(i: u32, v: ${entry}) {`,
    `  let w = i / ${entries}u;`,
    ...pick((w, idx) => `${name}_w${w}[${idx}] = v;${w === n - 1 ? "" : " return;"}`),
    "}",
  ];
  return [...get, ...(writable ? put : [])].join("\n");
}

/** Every `name[e]` read becomes `name_at(u32(e))`, every `name[e] = v;` becomes `name_put(u32(e), v);`, and
 *  `arrayLength(&name)` reads the first window. */
function throughWindows(code: string, name: string, kernel: string): string {
  const first = code.replaceAll(`arrayLength(&${name})`, `arrayLength(&${name}_w0)`);
  return (
    rewriteAccesses(first, name, `${name}_at`, `${name}_put`, "u32") ??
    bug(`${kernel}: binding ${name} is used other than as name[i] or name[i] = v, so it cannot be windowed`)
  );
}

function insertAfterDeclarations(code: string, text: string): string {
  const decls = [...code.matchAll(DECL)];
  const last = decls[decls.length - 1];
  const end = last.index + last[0].length;
  return `${code.slice(0, end)}\n${text}${code.slice(end)}`;
}
