// profile.ts: where a program's device time goes. Every dispatch runs in its own compute pass with a
// timestamp written before and after it (the `timestamp-query` feature), so the figures are the
// device's own; the median over several runs is kept per dispatch. Passes of one dispatch each cost a
// little more than one pass of all of them, so the sum is an upper bound on a submit's device time.
import { adapterName, type Gpu } from "./device.js";
import type { Executor } from "./executor.js";
import { MiraError } from "../base/errors.js";

/** WebGPU's maximum query count of one query set: two timestamps per dispatch. */
const MAX_QUERIES = 4096;

/** The adapter cannot time dispatches: this machine lacks a feature the same command has elsewhere. */
export class ProfileUnavailableError extends MiraError {
  readonly kind = "setup";
}

/** Median device time, in ms, of each dispatch of `ex`'s program over `runs` runs (after one warm-up). */
export async function timeDispatches(gpu: Gpu, ex: Executor, runs = 5): Promise<Float64Array> {
  if (!gpu.hasTimestamps) {
    throw new ProfileUnavailableError(
      `${adapterName(gpu.adapter)} has no 'timestamp-query' feature, which per-dispatch profiles need; ` +
        "time whole steps with 'mira bench' instead",
    );
  }
  const { device } = gpu;
  const n = ex.program.dispatches.length;
  const perSubmit = MAX_QUERIES / 2;
  const samples = Array.from({ length: n }, (): number[] => []);
  const querySet = device.createQuerySet({ type: "timestamp", count: MAX_QUERIES });
  const resolved = device.createBuffer({
    size: MAX_QUERIES * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    size: MAX_QUERIES * 8,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    for (let run = 0; run <= runs; run++) {
      for (let from = 0; from < n; from += perSubmit) {
        const to = Math.min(n, from + perSubmit);
        const queries = 2 * (to - from);
        const encoder = device.createCommandEncoder();
        ex.encodeTimed(encoder, querySet, from, to);
        encoder.resolveQuerySet(querySet, 0, queries, resolved, 0);
        encoder.copyBufferToBuffer(resolved, 0, staging, 0, queries * 8);
        device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ, 0, queries * 8);
        const stamps = new BigUint64Array(staging.getMappedRange(0, queries * 8).slice(0));
        staging.unmap();
        if (run === 0) continue; // warm-up: first runs pay for lazily created state
        for (let i = from; i < to; i++) {
          const [begin, end] = [stamps[2 * (i - from)], stamps[2 * (i - from) + 1]];
          samples[i].push(end >= begin ? Number(end - begin) / 1e6 : 0);
        }
      }
    }
  } finally {
    querySet.destroy();
    resolved.destroy();
    staging.destroy();
  }
  return Float64Array.from(samples, median);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

export interface KernelTime {
  /** the kernel's name, e.g. matmul_add_128x16x32x192 */
  readonly name: string;
  readonly dispatches: number;
  readonly ms: number;
}

export interface FamilyTime {
  /** what the kernel does, its name without sizes: matmul_add, reduce_mean, permute… */
  readonly family: string;
  readonly kernels: number;
  readonly dispatches: number;
  readonly ms: number;
}

/** A kernel name without its sizes and axes: `reduce_mean_128x16x32_axes2` → `reduce_mean`. */
export function kernelFamily(name: string): string {
  const parts = name.split("_");
  const cut = parts.findIndex((p) => /^\d/.test(p));
  return (cut < 0 ? parts : parts.slice(0, cut)).join("_") || name;
}

/** Per-dispatch times summed per kernel and per family, largest first. */
export function summarise(
  names: readonly string[],
  kernelOf: readonly number[],
  ms: ArrayLike<number>,
): { kernels: KernelTime[]; families: FamilyTime[] } {
  const kernels = new Map<number, { dispatches: number; ms: number }>();
  for (let i = 0; i < kernelOf.length; i++) {
    const k = kernels.get(kernelOf[i]) ?? { dispatches: 0, ms: 0 };
    k.dispatches++;
    k.ms += ms[i];
    kernels.set(kernelOf[i], k);
  }
  const byKernel = [...kernels].map(([k, t]): KernelTime => ({ name: names[k], ...t })).sort((a, b) => b.ms - a.ms);
  const families = new Map<string, { kernels: number; dispatches: number; ms: number }>();
  for (const k of byKernel) {
    const f = families.get(kernelFamily(k.name)) ?? { kernels: 0, dispatches: 0, ms: 0 };
    f.kernels++;
    f.dispatches += k.dispatches;
    f.ms += k.ms;
    families.set(kernelFamily(k.name), f);
  }
  const byFamily = [...families].map(([family, t]): FamilyTime => ({ family, ...t })).sort((a, b) => b.ms - a.ms);
  return { kernels: byKernel, families: byFamily };
}
