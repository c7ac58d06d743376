// parallel.ts: parallel kernels (horizontal fusion). Dispatches that do not depend on one another —
// the projections of one input, a decode step's cache writes, a matmul's two gradients — become one
// dispatch whose grid is theirs laid end to end: workgroup w runs member k's kernel as that member's
// workgroup w − offset(k). Nothing orders the members within the dispatch, so a dispatch joins only when
// it neither reads nor writes a buffer a member writes, and writes no buffer a member reads. A member may
// come from a little further in the schedule (a window): it then moves up past the dispatches in between,
// and joins only when it is apart, in the same sense, from each of those too — so every pair of
// dispatches that touch one buffer, one of them writing, keeps its order (buffer reuse included). Each member runs its own kernel's WGSL (stage.ts), so results are bit for bit the same;
// what goes is a launch per member (≈ 20–40 µs on llvmpipe, 3–10 µs on real GPUs). Unlike a sequence
// kernel (sequence.ts), nothing is serialised and no loop is added: the module is its members' code side
// by side (workgroup variables declared alike shared, since no workgroup runs two members), and every
// workgroup still runs on its own.
import type { DeviceLimits } from "./limits.js";
import type { Dispatch } from "./program.js";
import { type Member, stageModule, unflatten } from "./sequence.js";
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

function fits(run: readonly Member[], limits: DeviceLimits): boolean {
  if (workgroupBytes(run) > limits.maxComputeWorkgroupStorageSize) return false;
  if (run.reduce((s, m) => s + total(m.dispatch), 0) > limits.maxComputeWorkgroupsPerDimension ** 2) return false;
  const buffers = new Set(run.flatMap((m) => m.dispatch.buffers));
  return buffers.size <= limits.maxStorageBuffersPerShaderStage;
}

/** The program's dispatches with runs of independent ones merged; the kernels they use, deduplicated. */
export function parallelDispatches(
  kernels: readonly KernelSource[],
  dispatches: readonly Dispatch[],
  limits: DeviceLimits,
  o: ParallelOptions = PARALLEL_DEFAULTS,
): { kernels: KernelSource[]; dispatches: Dispatch[] } {
  const stages = kernels.map(parseStage);
  const outKernels: KernelSource[] = [];
  const index = new Map<string, number>();
  const kernelIndex = (k: KernelSource): number => {
    let i = index.get(k.code);
    if (i === undefined) {
      i = outKernels.push(k) - 1;
      index.set(k.code, i);
    }
    return i;
  };
  const out: Dispatch[] = [];
  const emit = (run: readonly Member[]): void => {
    const k = run.length > 1 ? parallelKernel(run, limits) : undefined;
    if (k)
      out.push({
        kernel: kernelIndex(k.kernel),
        buffers: k.buffers,
        workgroups: k.grid,
        node: run.at(-1)!.dispatch.node,
      });
    else for (const m of run) out.push({ ...m.dispatch, kernel: kernelIndex(m.stage.kernel) });
  };
  const access = dispatches.map((d) => accessOf(kernels[d.kernel], d));
  const taken = new Array<boolean>(dispatches.length).fill(false);
  for (const [i, d] of dispatches.entries()) {
    if (taken[i]) continue;
    const stage: Stage | undefined = stages[d.kernel];
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
      const sj = stages[dj.kernel];
      const m = sj && { stage: sj, dispatch: dj };
      const joins =
        m !== undefined &&
        sj!.size.join() === stage.size.join() &&
        members.apart(access[j]) &&
        skipped.apart(access[j]) &&
        fits([...run, m], limits);
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
): { kernel: KernelSource; buffers: number[]; grid: [number, number, number] } | undefined {
  const mod = stageModule(run, true);
  if (!mod) return undefined;
  const size = run[0].stage.size;
  const all = run.reduce((s, m) => s + total(m.dispatch), 0);
  const x = Math.min(all, limits.maxComputeWorkgroupsPerDimension);
  const grid: [number, number, number] = [x, Math.ceil(all / x), 1];
  let offset = 0;
  const branches = run.map(({ stage, dispatch }, k) => {
    const g = dispatch.workgroups;
    const w = offset === 0 ? "sq_w" : `(sq_w - ${offset}u)`;
    const wid = unflatten(w, g);
    const args = stage.builtins.map((b) => {
      if (b === "workgroup_id") return wid;
      if (b === "local_invocation_index") return "sq_i";
      if (b === "local_invocation_id") return "sq_l";
      if (b === "num_workgroups") return `vec3<u32>(${g.map((n) => `${n}u`).join(", ")})`;
      return `${wid} * vec3<u32>(${size.map((s) => `${s}u`).join(", ")}) + sq_l`;
    });
    offset += total(dispatch);
    return `${k === 0 ? "" : "else "}if (sq_w < ${offset}u) {\n    sq${k}_main(${args.join(", ")});\n  }`;
  });
  const code = [
    mod.head,
    `@compute @workgroup_size(${size.join(", ")})`,
    `fn main(@builtin(workgroup_id) sq_g: vec3<u32>, @builtin(local_invocation_index) sq_i: u32, ` +
      `@builtin(local_invocation_id) sq_l: vec3<u32>) {`,
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
