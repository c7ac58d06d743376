// timing.ts: the timing protocol shared by the benchmarks (bench/harness.ts) and the autotuner
// (runtime/autotune.ts) — warm-up, then the median of several runs, each ended by the caller waiting
// for the device — so a tuned choice and a benchmark figure mean the same thing.
import { performance } from "node:perf_hooks";

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

/** Median wall time of `fn` after `warmup` calls. */
export async function time(fn: () => Promise<unknown>, { warmup = 2, runs = 5, minTotalMs = 0 } = {}): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < runs || performance.now() - start < minTotalMs) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)], minMs: samples[0], runs: samples.length };
}
