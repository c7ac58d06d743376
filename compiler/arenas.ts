// arenas.ts: the program's buffers packed into arenas — one device buffer holding many of them at
// aligned offsets. A kernel still binds each of its buffers as its own byte range of the arena, so
// nothing changes for it; what changes is what a merged kernel may bind. A sequence or parallel kernel
// (sequence.ts, parallel.ts) binds one storage buffer per device buffer, at most 16 on most adapters, and
// a scan step's kernels touch dozens of weights, gradients and activations: with separate buffers a run
// of stages ended every two or three dispatches on that limit. Bound once as array<u32>, an arena gives
// every stage all of its members through one binding (wgsl/stage.ts reads and writes them by bitcast).
// Members are the buffers a 32-bit array can hold bit for bit and that fit one binding: f16 buffers and
// windowed ones (past the binding size, windows.ts) keep their own device buffers.
import type { DeviceLimits } from "./limits.js";
import type { Dispatch, ProgramBuffer } from "./program.js";
import type { KernelSource } from "./wgsl/common.js";
import { bug } from "../base/errors.js";
import { WINDOW_ALIGN } from "./wgsl/windows.js";
import { dropUnusedKernels } from "./windows.js";

/** Where a member lives: the arena's buffer id and its byte offset there. */
export interface Home {
  readonly arena: number;
  readonly offset: number;
}

/** Member buffer id → its home; empty for a program without arenas. */
export type Homes = ReadonlyMap<number, Home>;

export const NO_HOMES: Homes = new Map();

/** The buffers with every eligible one given a home, the arenas appended (role "arena", as u32 words).
 *  `apart`: buffers that keep their own — those a state update copies (a copy within one buffer is refused)
 *  and those a dispatch binds twice (made writable below, the two bindings would alias: refused too). */
export function placeInArenas(
  buffers: readonly ProgramBuffer[],
  limits: DeviceLimits,
  apart: ReadonlySet<number> = new Set(),
): ProgramBuffer[] {
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const out: ProgramBuffer[] = [...buffers];
  const arenas: ProgramBuffer[] = [];
  let id = -1;
  let used = cap; // no open arena yet
  const close = (): void => {
    if (id >= 0) arenas.push(arena(id, used));
  };
  for (const b of buffers) {
    if (b.dtype === "f16" || b.bytes > cap || apart.has(b.id)) continue;
    let offset = Math.ceil(used / WINDOW_ALIGN) * WINDOW_ALIGN;
    if (offset + b.bytes > cap) {
      close();
      id = buffers.length + arenas.length;
      offset = 0;
    }
    out[b.id] = { ...b, home: { arena: id, offset } };
    used = offset + b.bytes;
  }
  close();
  return [...out, ...arenas];
}

const arena = (id: number, bytes: number): ProgramBuffer => ({
  id,
  dtype: "u32",
  shape: [bytes / 4],
  bytes,
  role: "arena",
  name: `arena${id}`,
});

/** The sequence kernels' offset table as a buffer (sequence.ts): u32 words, written once. */
export const offsetTable = (id: number, words: readonly number[]): ProgramBuffer => ({
  id,
  dtype: "u32",
  shape: [words.length],
  bytes: words.length * 4,
  role: "temp",
  name: "sequence_offsets",
  init: words,
});

/** Buffers some dispatch binds more than once (a value read as two operands). */
export function boundTwice(dispatches: readonly Dispatch[]): number[] {
  return dispatches.flatMap((d) => d.buffers.filter((b, i) => d.buffers.indexOf(b) !== i));
}

/** The homes of a program's buffers. */
export function homesOf(buffers: readonly ProgramBuffer[]): Homes {
  return new Map(buffers.flatMap((b) => (b.home ? [[b.id, b.home] as const] : [])));
}

/** Bytes the program's values take: its buffers, an arena counted through its members. */
export const programBytes = (buffers: readonly ProgramBuffer[]): number =>
  buffers.reduce((s, b) => s + (b.role === "arena" ? 0 : b.bytes), 0);

/**
 * The dispatches with every binding into an arena made writable where the dispatch also writes another
 * binding into it: WebGPU refuses one buffer bound both read-only and writable in a dispatch, even at
 * ranges apart, but allows it bound writable several times. The kernel's text says `read_write` for those
 * bindings (a variant of the kernel); what it reads and writes is unchanged. Run last: the merges before
 * it order dispatches by what they really write.
 */
export function writableArenas(
  kernels: readonly KernelSource[],
  dispatches: readonly Dispatch[],
  homes: Homes,
): { kernels: KernelSource[]; dispatches: Dispatch[] } {
  if (homes.size === 0) return { kernels: [...kernels], dispatches: [...dispatches] };
  const out = [...kernels];
  const variants = new Map<string, number>();
  const result = dispatches.map((d) => {
    const k = kernels[d.kernel];
    const arenaOf = (i: number): number => homes.get(d.buffers[i])?.arena ?? d.buffers[i];
    const writes = new Set(k.bindings.flatMap((b, i) => (b.access === "read_write" ? [arenaOf(i)] : [])));
    const promote = k.bindings.flatMap((b, i) =>
      b.access === "read" && homes.has(d.buffers[i]) && writes.has(arenaOf(i)) ? [i] : [],
    );
    if (promote.length === 0) return d;
    const key = `${d.kernel}:${promote.join(",")}`;
    let index = variants.get(key);
    if (index === undefined) {
      index = out.push(writableVariant(k, promote)) - 1;
      variants.set(key, index);
    }
    return { ...d, kernel: index };
  });
  // kernels only promoted dispatches used are dropped
  return dropUnusedKernels(out, result);
}

function writableVariant(k: KernelSource, promote: readonly number[]): KernelSource {
  let code = k.code;
  for (const i of promote) {
    const decl = new RegExp(`(@group\\(0\\) @binding\\(${i}\\) var<storage, )read>`);
    if (!decl.test(code)) bug(`${k.name}: binding ${i} is not declared read-only as expected`);
    code = code.replace(decl, "$1read_write>");
  }
  const bindings = k.bindings.map((b, i) => (promote.includes(i) ? { ...b, access: "read_write" as const } : b));
  return { ...k, code, bindings };
}
