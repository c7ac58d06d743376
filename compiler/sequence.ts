// sequence.ts: sequence kernels. A run of consecutive small dispatches becomes one dispatch of one
// workgroup that runs them in schedule order, each as a stage, with a storage barrier between stages:
// inside one workgroup a barrier orders every write of a stage before every read of the next, so no
// dependency analysis is needed — the schedule's order is kept exactly, and each stage computes what
// its kernel computed (the same WGSL, the same arithmetic: results are bit for bit the same). A stage
// loops over its kernel's invocations, workgroup by workgroup; a kernel that uses workgroup barriers
// runs with the sequence's own workgroup size so that all invocations reach each barrier together.
// This is how batch-1 work (a decoding step, a scan's per-step kernels) stops paying a launch per
// kernel: ≈ 20–40 µs on llvmpipe, 3–10 µs on real GPUs, against a few µs of arithmetic.
// A run ends at a dispatch too large for one workgroup, at the device's storage-buffer limit, at its
// workgroup-memory limit, or at a buffer two stages bind with different element types. With arenas
// (arenas.ts) the buffers in one arena take one binding, so runs end on the stage limit instead, or where
// they are cut so that a scan's repeated steps share their kernels (below).
import type { DeviceLimits } from "./limits.js";
import type { Dispatch } from "./program.js";
import type { Binding, KernelSource } from "./wgsl/common.js";
import {
  type PeeledStage,
  type Stage,
  memberHelpers,
  parseStage,
  peelStage,
  renameIdentifiers,
  vec4Accesses,
  vec4Helpers,
} from "./wgsl/stage.js";
import { storageType } from "./dtype.js";
import { type Home, type Homes, NO_HOMES } from "./arenas.js";
import { rewriteAccesses } from "./wgsl/accesses.js";
import { WINDOW_ALIGN } from "./wgsl/windows.js";

export interface SequenceOptions {
  /** a dispatch joins a sequence when its invocations (threads × workgroups) are at most this */
  readonly maxInvocations: number;
  /** stages per sequence kernel at most (bounds one shader's size and compile time) */
  readonly maxStages: number;
  /** with arenas, a run also ends before a dispatch where a hash of its kernel and the one before is 0
   *  modulo this: cuts decided by content, so the repeated steps of an unrolled scan are cut alike
   *  wherever the runs before them ended, and share their sequence kernels */
  readonly cutEvery: number;
  /** dispatches of one kernel that make it repeated (a scan of at least this many steps), where runs are
   *  cut for sharing */
  readonly repeated: number;
}

export const SEQUENCE_DEFAULTS: SequenceOptions = { maxInvocations: 2048, maxStages: 16, cutEvery: 8, repeated: 8 };

/** Where a run of stages ends by content (SequenceOptions.cutEvery). */
const cutBefore = (prev: number, kernel: number, every: number): boolean =>
  ((Math.imul(prev + 1, 0x9e3779b1) ^ Math.imul(kernel + 1, 0x85ebca6b)) >>> 0) % every === 0;

/** What a sequence kernel needs with arenas: where members live, and the id the offset table will take. */
export interface SequenceArenas {
  readonly homes: Homes;
  /** the buffer id of the table of member offsets (u32 words) the sequence dispatches read theirs from */
  readonly table: number;
}

export interface Member {
  readonly stage: Stage;
  readonly dispatch: Dispatch;
  /** words to add to each binding's offset in the table: constants peeled out of the stage (peelStage) */
  readonly extra?: readonly number[];
}

/** A buffer as the sequence binds it: a buffer of its own, or an arena its members are read through. */
export interface Slot {
  readonly buffer: number; // the buffer id, or the arena's
  readonly type: string; // storage element type
  readonly dtype: Binding["dtype"];
  vec4: boolean; // every stage binds it as vec4
  writes: boolean;
}

/** The kernels a rewritten program uses, each once (by code), and the index of a kernel among them. */
export function kernelTable(): { kernels: KernelSource[]; indexOf: (k: KernelSource) => number } {
  const kernels: KernelSource[] = [];
  const index = new Map<string, number>();
  const indexOf = (k: KernelSource): number => {
    let i = index.get(k.code);
    if (i === undefined) {
      i = kernels.push(k) - 1;
      index.set(k.code, i);
    }
    return i;
  };
  return { kernels, indexOf };
}

const invocations = (m: Member): number => m.stage.threads * m.dispatch.workgroups.reduce((a, b) => a * b, 1);

/** The program's dispatches with runs of small ones merged; the kernels they use, deduplicated. */
export function sequenceDispatches(
  kernels: readonly KernelSource[],
  dispatches: readonly Dispatch[],
  limits: DeviceLimits,
  o: SequenceOptions = SEQUENCE_DEFAULTS,
  arenas?: SequenceArenas,
): { kernels: KernelSource[]; dispatches: Dispatch[]; table: number[] } {
  const homes = arenas?.homes ?? NO_HOMES;
  const stages = kernels.map(parseStage);
  // with a table, arena members' constant index offsets move into it, so that stages differing only in
  // where they read (a scan step's slice) become one; `ids` names stages by what they compile to
  const peeled = new Map<string, PeeledStage>();
  const members = dispatches.map((d): Member | undefined => {
    const stage = d.ranges ? undefined : stages[d.kernel]; // a windowed dispatch runs as it is
    if (!stage || !arenas) return stage && { stage, dispatch: d };
    const mask = d.buffers.map((b) => (homes.has(b) ? "1" : "0")).join("");
    let p = peeled.get(`${d.kernel}|${mask}`);
    if (p === undefined) {
      p = peelStage(stage, (i) => mask[i] === "1");
      peeled.set(`${d.kernel}|${mask}`, p);
    }
    return { stage: p.stage, dispatch: d, extra: p.extra };
  });
  const names = new Map<string, number>();
  const ids = members.map((m, i) => {
    const name = m ? `${m.stage.code}|${JSON.stringify(m.stage.kernel.bindings)}` : `kernel ${dispatches[i].kernel}`;
    if (!names.has(name)) names.set(name, names.size);
    return names.get(name)!;
  });
  const { kernels: outKernels, indexOf: kernelIndex } = kernelTable();
  const out: Dispatch[] = [];
  const table: number[] = [];
  let run: Member[] = [];
  const flush = (): void => {
    if (run.length === 1) out.push({ ...run[0].dispatch, kernel: kernelIndex(run[0].stage.kernel) });
    else if (run.length > 1) {
      const k = sequenceKernel(run, homes, arenas !== undefined);
      if (!k) for (const m of run) out.push({ ...m.dispatch, kernel: kernelIndex(m.stage.kernel) });
      else {
        const d: Dispatch = {
          kernel: kernelIndex(k.kernel),
          buffers: k.buffers,
          workgroups: [1, 1, 1],
          node: run.at(-1)!.dispatch.node,
          ...touchesOf(run, homes),
        };
        if (k.offsets.length === 0) out.push(d);
        else {
          // this dispatch's member offsets, at a binding-aligned place of the table
          const at = table.length;
          table.push(...k.offsets);
          while (table.length % (WINDOW_ALIGN / 4) !== 0) table.push(0);
          out.push({
            ...d,
            buffers: [...k.buffers, arenas!.table],
            ranges: [...k.buffers.map(() => undefined), { offset: at * 4, size: k.offsets.length * 4 }],
          });
        }
      }
    }
    run = [];
  };
  // With arenas, where kernels repeat (the steps of an unrolled scan), runs are cut so that the steps share
  // their sequence kernels: by content (cutBefore) before a repeated kernel, and around a kernel only one
  // dispatch runs next to a repeated one (a step's slice at its own offset), which would make its run's
  // kernel unique too. Elsewhere runs stay as long as the limits allow.
  const uses = new Map<number, number>();
  for (const id of ids) uses.set(id, (uses.get(id) ?? 0) + 1);
  const repeated = (i: number): boolean => i >= 0 && i < ids.length && uses.get(ids[i])! >= o.repeated;
  const alone = (i: number): boolean =>
    homes.size > 0 && uses.get(ids[i]) === 1 && (repeated(i - 1) || repeated(i + 1));
  for (const [i, d] of dispatches.entries()) {
    const m = members[i];
    const big = !m || invocations(m) > o.maxInvocations || m.stage.threads > limits.maxComputeInvocationsPerWorkgroup;
    if (big || alone(i)) {
      flush();
      out.push({ ...d, kernel: kernelIndex(kernels[d.kernel]) });
      continue;
    }
    const cut = homes.size > 0 && run.length > 0 && repeated(i) && cutBefore(ids[i - 1], ids[i], o.cutEvery);
    if (cut || run.length >= o.maxStages || !fits([...run, m], limits, homes, arenas !== undefined)) flush();
    run.push(m);
  }
  flush();
  return { kernels: outKernels, dispatches: out, table };
}

/** The sequence's workgroup size: the largest stage's; a stage with barriers must have exactly it. */
function threadsOf(run: readonly Member[]): number {
  return Math.max(...run.map((m) => m.stage.threads));
}

/** Whether a run makes one kernel within the limits; `table`: arena members' offsets come from a table,
 *  which takes a binding of its own when the run has any. */
function fits(run: readonly Member[], limits: DeviceLimits, homes: Homes, table: boolean): boolean {
  const threads = threadsOf(run);
  if (run.some((m) => m.stage.barriers && m.stage.threads !== threads)) return false;
  if (run.reduce((s, m) => s + m.stage.workgroupBytes, 0) > limits.maxComputeWorkgroupStorageSize) return false;
  const slots = slotsOf(run, homes);
  const members = table && run.some((m) => m.dispatch.buffers.some((b) => homes.has(b)));
  return slots !== undefined && slots.length + (members ? 1 : 0) <= limits.maxStorageBuffersPerShaderStage;
}

/** One slot per buffer or arena, or undefined when two stages bind a buffer with different element types. */
export function slotsOf(run: readonly Member[], homes: Homes = NO_HOMES): Slot[] | undefined {
  const slots = new Map<number, Slot>();
  for (const { stage, dispatch } of run) {
    for (const [i, b] of stage.kernel.bindings.entries()) {
      const home = homes.get(dispatch.buffers[i]);
      if (home && storageType(b.dtype) === "f16") return undefined; // not bit for bit in 32-bit words
      const buffer = home?.arena ?? dispatch.buffers[i];
      const type = home ? "u32" : storageType(b.dtype);
      const s = slots.get(buffer);
      if (s && s.type !== type) return undefined;
      const slot = s ?? { buffer, type, dtype: home ? "u32" : b.dtype, vec4: true, writes: false };
      slot.vec4 &&= !home && b.vec === 4;
      slot.writes ||= b.access === "read_write";
      slots.set(buffer, slot);
    }
  }
  return [...slots.values()];
}

/** The buffers a run's stages read and write, arena members by their own ids (parallel.ts orders by them). */
export function touchesOf(run: readonly Member[], homes: Homes): Pick<Dispatch, "touches"> {
  if (homes.size === 0) return {};
  const reads = new Set<number>();
  const writes = new Set<number>();
  for (const { stage, dispatch } of run) {
    if (dispatch.touches) {
      for (const x of dispatch.touches.reads) reads.add(x);
      for (const x of dispatch.touches.writes) writes.add(x);
    } else
      stage.kernel.bindings.forEach((b, i) => (b.access === "read_write" ? writes : reads).add(dispatch.buffers[i]));
  }
  return { touches: { reads: [...reads].filter((x) => !writes.has(x)), writes: [...writes] } };
}

/** The WGSL u32 expression of an arena member's offset in words, for stage k: written in, or read from a
 *  table so that runs of the same stages over other buffers compile to the same kernel. */
export type MemberBase = (k: number, home: Home, binding: number) => string;

/** A run of stages in one module: a binding per buffer (slot), each stage's helpers and `main` renamed
 *  (`sq{k}_main`) with its bindings pointing at the slots; undefined where a stage's vec4 accesses cannot
 *  be rewritten per element. Shared by sequence kernels and parallel kernels (parallel.ts). */
export function stageModule(
  run: readonly Member[],
  shareWorkgroup = false,
  homes: Homes = NO_HOMES,
  base: MemberBase = (_, home) => `${home.offset / 4}u`,
): { slots: Slot[]; head: string; bindings: Binding[]; buffers: number[] } | undefined {
  const slots = slotsOf(run, homes);
  if (!slots) return undefined;
  const slotName = new Map(slots.map((s, i) => [s.buffer, `sq_b${i}`]));
  const decls = slots.map((s, i) => {
    const el = s.vec4 ? `vec4<${s.type}>` : s.type;
    return `@group(0) @binding(${i}) var<storage, ${s.writes ? "read_write" : "read"}> sq_b${i}: array<${el}>;`;
  });
  const helpers = new Set<string>();
  const bodies: string[] = [];
  const shared = new Map<string, string>(); // a workgroup variable's declaration → its name in the module
  for (const [k, { stage, dispatch }] of run.entries()) {
    let code = stage.code;
    const rename = new Map(stage.names.map((n) => [n, `sq${k}_${n}`]));
    // Stages that never run in the same workgroup (parallel.ts) share workgroup variables declared alike.
    for (const v of shareWorkgroup ? stage.workgroupVars : []) {
      const key = `${v.name}: ${v.type}`;
      const name = shared.get(key);
      if (name === undefined) shared.set(key, rename.get(v.name)!);
      else {
        code = code.replace(new RegExp(`^var<workgroup>\\s+${v.name}\\s*:[^;]*;\\s*$`, "m"), "");
        rename.set(v.name, name);
      }
    }
    for (const [i, b] of stage.kernel.bindings.entries()) {
      const home = homes.get(dispatch.buffers[i]);
      const slot = slots.find((s) => s.buffer === (home?.arena ?? dispatch.buffers[i]))!;
      const name = slotName.get(slot.buffer)!;
      if (home) {
        // an arena member: every access goes through helpers at its offset, by bitcast
        const fn = `sqa${k}_${b.name}`;
        const rewritten = rewriteAccesses(code, b.name, `${fn}_ld`, `${fn}_st`, "u32");
        if (rewritten === undefined) return undefined;
        code = rewritten;
        helpers.add(memberHelpers(b, fn, name, base(k, home, i), b.access === "read_write"));
        continue;
      }
      if (b.vec === 4 && !slot.vec4) {
        const rewritten = vec4Accesses(code, b.name, `${name}_ld4`, `${name}_st4`);
        if (rewritten === undefined) return undefined;
        code = rewritten;
        helpers.add(vec4Helpers(b, name, slot.writes));
      }
      rename.set(b.name, name);
    }
    bodies.push(`// stage ${k}: ${stage.kernel.name}\n${renameIdentifiers(code, rename)}`);
  }
  const f16 = run.some((m) => m.stage.f16) || slots.some((s) => s.dtype === "f16");
  const head = [f16 ? "enable f16;" : "", decls.join("\n"), [...helpers].join("\n"), bodies.join("\n\n")]
    .filter((x) => x !== "")
    .join("\n");
  const bindings: Binding[] = slots.map((s, i) => ({
    name: `sq_b${i}`,
    dtype: s.dtype,
    access: s.writes ? "read_write" : "read",
    vec: s.vec4 ? 4 : 1,
  }));
  return { slots, head, bindings, buffers: slots.map((s) => s.buffer) };
}

/** The WGSL of a run of stages and the buffers its bindings take; undefined where a stage's vec4 accesses
 *  cannot be rewritten per element. */
function sequenceKernel(
  run: readonly Member[],
  homes: Homes,
  table: boolean,
): { kernel: KernelSource; buffers: number[]; offsets: number[] } | undefined {
  const offsets: number[] = [];
  const fromTable: MemberBase = (k, home, i) =>
    `sq_t[${offsets.push(home.offset / 4 + (run[k].extra?.[i] ?? 0)) - 1}u]`;
  const mod = stageModule(run, false, homes, table ? fromTable : undefined);
  if (!mod) return undefined;
  const tableBinding: Binding[] = offsets.length > 0 ? [{ name: "sq_t", dtype: "u32", access: "read" }] : [];
  const tableDecl = `@group(0) @binding(${mod.bindings.length}) var<storage, read> sq_t: array<u32>;`;
  const threads = threadsOf(run);
  const calls = run.map(({ stage, dispatch }, k) => stageCall(stage, dispatch.workgroups, `sq${k}_main`, threads));
  const code = [
    mod.head,
    ...(offsets.length > 0 ? [tableDecl] : []),
    `@compute @workgroup_size(${threads})`,
    `fn main(@builtin(local_invocation_index) sq_i: u32) {`,
    // zero, but not to the compiler: a loop over a stage must stay a loop, not copies of the stage's body
    `  let sq_zero = arrayLength(&sq_b0) / 4294967295u;`,
    calls.join("\n  storageBarrier();\n"),
    `}`,
  ].join("\n");
  const first = run[0].stage.kernel.name;
  const last = run.at(-1)!.stage.kernel.name;
  return {
    kernel: {
      name: `seq${run.length}_${first}_to_${last}`,
      code,
      workgroups: [1, 1, 1],
      bindings: [...mod.bindings, ...tableBinding],
    },
    buffers: mod.buffers,
    offsets,
  };
}

/** vec3<u32> of a flat index `i` over extents `e` (x fastest). */
export function unflatten(i: string, e: readonly number[]): string {
  const [x, y] = e;
  if (e[1] === 1 && e[2] === 1) return `vec3<u32>(${i}, 0u, 0u)`;
  return `vec3<u32>(${i} % ${x}u, (${i} / ${x}u) % ${y}u, ${i} / ${x * y}u)`;
}

/**
 * The loop that runs one stage: every invocation of every workgroup of its dispatch. Without barriers the
 * sequence's threads share out the invocations; with barriers they run one workgroup at a time, all
 * together, with a barrier after each so the next workgroup's writes to workgroup memory come after.
 */
function stageCall(stage: Stage, grid: readonly number[], fn: string, threads: number): string {
  const total = grid[0] * grid[1] * grid[2];
  const args = (w: string, l: string): string =>
    stage.builtins
      .map((b) => {
        const wid = unflatten(w, grid);
        const lid = unflatten(l, stage.size);
        if (b === "workgroup_id") return wid;
        if (b === "local_invocation_index") return l;
        if (b === "local_invocation_id") return lid;
        if (b === "num_workgroups") return `vec3<u32>(${grid.map((g) => `${g}u`).join(", ")})`;
        return `${wid} * vec3<u32>(${stage.size.map((s) => `${s}u`).join(", ")}) + ${lid}`;
      })
      .join(", ");
  if (stage.barriers) {
    const call = `${fn}(${args("w", "sq_i")});`;
    return `  for (var w = 0u; w < ${total}u + sq_zero; w++) {\n    ${call}\n    workgroupBarrier();\n  }`;
  }
  const t = stage.threads;
  const body = `${fn}(${args(`(v / ${t}u)`, `(v % ${t}u)`)});`;
  return `  for (var v = sq_i; v < ${total * t}u + sq_zero; v += ${threads}u) {\n    ${body}\n  }`;
}
