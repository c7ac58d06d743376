// parallel.ts: parallel kernels (horizontal fusion). Dispatches that do not depend on one another —
// the projections of one input, a decode step's cache writes, a matmul's two gradients — become one
// dispatch whose grid is theirs laid end to end: workgroup w runs member k's kernel as that member's
// workgroup w − offset(k). Nothing orders the members within the dispatch, so a dispatch joins only when
// it neither reads nor writes a buffer a member writes, and writes no buffer a member reads. A member may
// come from a little further in the schedule (a window): it then moves up past the dispatches in between,
// and joins only when it is apart, in the same sense, from each of those too — so every pair of
// dispatches that touch one buffer, one of them writing, keeps its order (buffer reuse included; the
// memory plan leaves a freed buffer alone for a window's length, so that reuse rarely stands in the way).
// Each member runs its own kernel's WGSL (stage.ts), so results are bit for bit the same; what goes is a
// launch per member (≈ 20–40 µs on llvmpipe, 3–10 µs on real GPUs). Unlike a sequence kernel
// (sequence.ts), nothing is serialised and no loop is added: the module is its members' code side by side
// (workgroup variables declared alike shared, since no workgroup runs two members), and every workgroup
// still runs on its own.
import type { DeviceLimits } from "./limits.js";
import type { Dispatch } from "./program.js";
import { type Member, kernelTable, slotsOf as bufferSlots, stageModule, touchesOf, unflatten } from "./sequence.js";
import { type Homes, NO_HOMES } from "./arenas.js";
import type { KernelSource } from "./wgsl/common.js";
import { type Stage, parseStage } from "./wgsl/stage.js";

export interface ParallelOptions {
  /** members per parallel kernel at most (bounds one shader's size and compile time) */
  readonly maxMembers: number;
  /** how far ahead (in dispatches) a member may be found: it moves up past the ones in between */
  readonly window: number;
}

export const PARALLEL_DEFAULTS: ParallelOptions = { maxMembers: 4, window: 16 };

const total = (d: Dispatch): number => d.workgroups[0] * d.workgroups[1] * d.workgroups[2];

/** Buffers a dispatch writes (bound read_write) and only reads. */
interface Access {
  readonly writes: ReadonlySet<number>;
  readonly reads: ReadonlySet<number>;
}

function accessOf(k: KernelSource, d: Dispatch): Access {
  if (d.touches) return { writes: new Set(d.touches.writes), reads: new Set(d.touches.reads) };
  const writes = new Set<number>();
  const reads = new Set<number>();
  k.bindings.forEach((b, i) => (b.access === "read_write" ? writes : reads).add(d.buffers[i]));
  return { writes, reads };
}

/** Buffers touched by a set of dispatches, gathered. */
class Touched {
  readonly writes = new Set<number>();
  readonly reads = new Set<number>();
  add(a: Access): void {
    for (const x of a.writes) this.writes.add(x);
    for (const x of a.reads) this.reads.add(x);
  }
  /** Whether `a` may run unordered beside (or before) these: neither writes what the other touches. */
  apart(a: Access): boolean {
    for (const x of a.writes) if (this.writes.has(x) || this.reads.has(x)) return false;
    for (const x of a.reads) if (this.writes.has(x)) return false;
    return true;
  }
}

/** Bytes of workgroup memory the members take, variables declared alike shared (stageModule). */
function workgroupBytes(run: readonly Member[]): number {
  const vars = new Map(run.flatMap((m) => m.stage.workgroupVars.map((v) => [`${v.name}: ${v.type}`, v.bytes])));
  return [...vars.values()].reduce((a, b) => a + b, 0);
}

/** Threads of the kernel's workgroup: its largest member's. */
const threadsOf = (run: readonly Member[]): number => Math.max(...run.map((m) => m.stage.threads));

/** How many of a member's workgroups one of the kernel's runs (each on its own slice of the threads):
 *  one when the sizes agree; a member with barriers or workgroup memory needs a workgroup of its size. */
function packOf(stage: Stage, threads: number): number | undefined {
  if (stage.threads === threads) return 1;
  if (stage.barriers || stage.workgroupBytes > 0 || threads % stage.threads !== 0) return undefined;
  return threads / stage.threads;
}

/** The kernel's workgroups for a member. */
const slotsOf = (m: Member, threads: number): number => Math.ceil(total(m.dispatch) / packOf(m.stage, threads)!);

function fits(run: readonly Member[], limits: DeviceLimits, homes: Homes): boolean {
  const threads = threadsOf(run);
  if (run.some((m) => packOf(m.stage, threads) === undefined)) return false;
  if (workgroupBytes(run) > limits.maxComputeWorkgroupStorageSize) return false;
  if (run.reduce((s, m) => s + slotsOf(m, threads), 0) > limits.maxComputeWorkgroupsPerDimension ** 2) return false;
  const slots = bufferSlots(run, homes);
  return slots !== undefined && slots.length <= limits.maxStorageBuffersPerShaderStage;
}

/** The program's dispatches with runs of independent ones merged; the kernels they use, deduplicated. */
export function parallelDispatches(
  kernels: readonly KernelSource[],
  dispatches: readonly Dispatch[],
  limits: DeviceLimits,
  o: ParallelOptions = PARALLEL_DEFAULTS,
  homes: Homes = NO_HOMES,
): { kernels: KernelSource[]; dispatches: Dispatch[] } {
  const stages = kernels.map(parseStage);
  const { kernels: outKernels, indexOf: kernelIndex } = kernelTable();
  const out: Dispatch[] = [];
  const emit = (run: readonly Member[]): void => {
    const k = run.length > 1 ? parallelKernel(run, limits, homes) : undefined;
    if (k)
      out.push({
        kernel: kernelIndex(k.kernel),
        buffers: k.buffers,
        workgroups: k.grid,
        node: run.at(-1)!.dispatch.node,
        ...touchesOf(run, homes),
      });
    else for (const m of run) out.push({ ...m.dispatch, kernel: kernelIndex(m.stage.kernel) });
  };
  const access = dispatches.map((d) => accessOf(kernels[d.kernel], d));
  const taken = new Array<boolean>(dispatches.length).fill(false);
  for (const [i, d] of dispatches.entries()) {
    if (taken[i]) continue;
    const stage: Stage | undefined = d.ranges ? undefined : stages[d.kernel]; // windowed: runs as it is
    if (!stage) {
      out.push({ ...d, kernel: kernelIndex(kernels[d.kernel]) });
      continue;
    }
    // Later dispatches join when they are apart from every member and from every dispatch they would
    // move before (the ones skipped so far): the order of every dependent pair is kept.
    const run: Member[] = [{ stage, dispatch: d }];
    const members = new Touched();
    members.add(access[i]);
    const skipped = new Touched();
    for (let j = i + 1; j < dispatches.length && j <= i + o.window && run.length < o.maxMembers; j++) {
      if (taken[j]) continue;
      const dj = dispatches[j];
      const sj = dj.ranges ? undefined : stages[dj.kernel];
      const m = sj && { stage: sj, dispatch: dj };
      const joins =
        m !== undefined && members.apart(access[j]) && skipped.apart(access[j]) && fits([...run, m], limits, homes);
      if (joins) {
        run.push(m);
        members.add(access[j]);
        taken[j] = true;
      } else skipped.add(access[j]);
    }
    emit(run);
  }
  return { kernels: outKernels, dispatches: out };
}

/** The WGSL of a run of independent dispatches as one, its buffers and its grid. */
function parallelKernel(
  run: readonly Member[],
  limits: DeviceLimits,
  homes: Homes,
): { kernel: KernelSource; buffers: number[]; grid: [number, number, number] } | undefined {
  const mod = stageModule(run, true, homes);
  if (!mod) return undefined;
  const threads = threadsOf(run);
  const all = run.reduce((s, m) => s + slotsOf(m, threads), 0);
  const x = Math.min(all, limits.maxComputeWorkgroupsPerDimension);
  const grid: [number, number, number] = [x, Math.ceil(all / x), 1];
  let offset = 0;
  const branches = run.map((m, k) => {
    const { stage, dispatch } = m;
    const g = dispatch.workgroups;
    const pack = packOf(stage, threads)!;
    const t = stage.threads;
    const w = offset === 0 ? "sq_w" : `(sq_w - ${offset}u)`;
    const [mw, mi] = [`sq${k}_w`, `sq${k}_i`];
    const lines =
      pack === 1
        ? [`let ${mw} = ${w};`, `let ${mi} = sq_i;`]
        : [`let ${mw} = ${w} * ${pack}u + sq_i / ${t}u;`, `let ${mi} = sq_i % ${t}u;`];
    const wid = unflatten(mw, g);
    const lid = unflatten(mi, stage.size);
    const args = stage.builtins.map((b) => {
      if (b === "workgroup_id") return wid;
      if (b === "local_invocation_index") return mi;
      if (b === "local_invocation_id") return lid;
      if (b === "num_workgroups") return `vec3<u32>(${g.map((n) => `${n}u`).join(", ")})`;
      return `${wid} * vec3<u32>(${stage.size.map((n) => `${n}u`).join(", ")}) + ${lid}`;
    });
    const call = `sq${k}_main(${args.join(", ")});`;
    // a packed member's last workgroup of the kernel may hold fewer of its workgroups than it has room for
    lines.push(pack > 1 && total(dispatch) % pack !== 0 ? `if (${mw} < ${total(dispatch)}u) { ${call} }` : call);
    offset += slotsOf(m, threads);
    return `${k === 0 ? "" : "else "}if (sq_w < ${offset}u) {\n    ${lines.join("\n    ")}\n  }`;
  });
  const code = [
    mod.head,
    `@compute @workgroup_size(${threads})`,
    `fn main(@builtin(workgroup_id) sq_g: vec3<u32>, @builtin(local_invocation_index) sq_i: u32) {`,
    `  let sq_w = sq_g.x + sq_g.y * ${x}u;`,
    `  ${branches.join(" ")}`,
    `}`,
  ].join("\n");
  const names = run.map((m) => m.stage.kernel.name);
  return {
    kernel: {
      name: `par${run.length}_${names[0]}_to_${names.at(-1)}`,
      code,
      workgroups: grid,
      bindings: mod.bindings,
    },
    buffers: mod.buffers,
    grid,
  };
}
