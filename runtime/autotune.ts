// autotune.ts (runtime): measures matmul configurations on this device and picks the fastest per
// signature. Each candidate compiles through compileGraph with a one-entry table — the path a tuned
// model takes — runs once to be checked against the default configuration's result, then is timed
// with the benchmarks' protocol (runtime/timing.ts: warm-up, median of ≥ 5 runs, each ended by a
// device sync). Search: workgroup shapes and the shared variant first, then split-K on the two fastest
// tiles, then the default and the three best measured again, the final figures coming from that
// round (a busy machine makes single medians noisy). Only `mira bench --autotune` calls this.
import {
  type MatmulConfig,
  type MatmulSignature,
  type TuningEntry,
  type TuningTable,
  configLabel,
  defaultConfig,
  emptyTable,
  parseSignatureKey,
  sameConfig,
  signatureGraph,
  signatureKey,
  splitCandidates,
  tileCandidates,
  withEntries,
} from "../compiler/autotune.js";
import { opSpec } from "../compiler/ops/index.js";
import { compileGraph } from "../compiler/program.js";
import type { Program } from "../compiler/program.js";
import { adapterKey } from "./autotune-cache.js";
import type { Gpu } from "./device.js";
import { Executor } from "./executor.js";
import { time } from "./timing.js";
import { bug } from "../base/errors.js";

export interface CandidateTiming {
  readonly config: MatmulConfig;
  readonly ms: number;
}

export interface TuneResult {
  readonly signature: MatmulSignature;
  readonly key: string;
  readonly defaultConfig: MatmulConfig;
  readonly defaultMs: number;
  readonly best: MatmulConfig;
  readonly bestMs: number;
  /** first-round medians of every candidate that ran and matched */
  readonly candidates: readonly CandidateTiming[];
  /** candidates that failed to compile or disagreed with the default's result, with why */
  readonly rejected: readonly string[];
}

export interface AutotuneOptions {
  /** timed runs per measurement (at least 5) and warm-up runs */
  readonly runs?: number;
  readonly warmup?: number;
  /** a faster candidate replaces the default only when at least this much faster (noise margin) */
  readonly margin?: number;
  /** the candidates of a signature (default: autotune.tileCandidates, then splitCandidates) */
  readonly candidates?: (s: MatmulSignature) => readonly MatmulConfig[];
  readonly onProgress?: (line: string) => void;
}

/** The distinct matmul signatures of a compiled program, in program order. */
export function programSignatures(p: Program): string[] {
  return [...new Set(p.matmuls.map((m) => m.signature))];
}

/** Values on a dyadic grid (multiples of 1/16 in [−2, 2]): every partial sum is exact in f32 for K up
 *  to ~16k, so any correct order of accumulation (a split, another tile) gives identical results. */
function gridInput(n: number, seed: number, integer: boolean): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = (s >>> 26) - 32; // −32 … 31
    out[i] = integer ? v >> 3 : v / 16;
  }
  return out;
}

/** One signature's probe graph on the device: each candidate compiled, checked and timed. The
 *  executors of the default and the current three fastest stay alive for the final round (creating
 *  pipelines is the slow part on a software adapter); the rest are destroyed as they fall behind. */
class Probe {
  private reference: Float64Array | undefined;
  private readonly feeds: Record<string, Float32Array> = {};
  private readonly key: string;
  private readonly alive = new Map<string, Executor>();

  constructor(
    private readonly gpu: Gpu,
    readonly sig: MatmulSignature,
    private readonly o: Required<Pick<AutotuneOptions, "runs" | "warmup">>,
  ) {
    this.key = signatureKey(sig);
    const integer = sig.dtype !== "f32" && sig.dtype !== "f16";
    for (const [i, t] of signatureGraph(sig)
      .nodes.filter((n) => n.op === "input")
      .entries()) {
      this.feeds[t.attrs.name!] = gridInput(
        t.shape.reduce((a, d) => a * d, 1),
        17 + i,
        integer,
      );
    }
  }

  /** Median ms of `config`; throws when it does not compile or disagrees with the default's result. */
  async measure(config: MatmulConfig): Promise<number> {
    const label = configLabel(config);
    const ex = this.alive.get(label) ?? (await this.create(config));
    this.alive.set(label, ex);
    const t = await time(() => ex.run([]).then(() => ex.sync()), { warmup: this.o.warmup, runs: this.o.runs });
    return t.medianMs;
  }

  /** Destroys the executors of every configuration not named. */
  keepOnly(configs: readonly MatmulConfig[]): void {
    const keep = new Set(configs.map(configLabel));
    for (const [label, ex] of this.alive) {
      if (keep.has(label)) continue;
      ex.destroy();
      this.alive.delete(label);
    }
  }

  destroy(): void {
    this.keepOnly([]);
  }

  private async create(config: MatmulConfig): Promise<Executor> {
    const table: TuningTable = { ...emptyTable("probe"), entries: { [this.key]: { config, defaultMs: 0, bestMs: 0 } } };
    const program = compileGraph(signatureGraph(this.sig), this.gpu.limits, { tuning: table });
    const rec = program.matmuls[0];
    if (rec?.signature !== this.key || !rec.tuned || !sameConfig(rec.config, config)) {
      bug(
        `the probe graph compiled as ${rec?.signature} ${rec ? configLabel(rec.config) : ""}, ` +
          `not ${this.key} ${configLabel(config)}`,
      );
    }
    const ex = await Executor.create(this.gpu, program);
    try {
      for (const [name, v] of Object.entries(this.feeds)) ex.write(name, v);
      const got = (await ex.run(["c"])).c;
      if (!this.reference)
        this.reference = got; // the default configuration is created first
      else checkSame(got, this.reference);
      return ex;
    } catch (e) {
      ex.destroy();
      throw e;
    }
  }
}

function checkSame(got: Float64Array, ref: Float64Array): void {
  const { atol, rtol } = opSpec("matmul").tol;
  for (let i = 0; i < ref.length; i++) {
    if (!(Math.abs(got[i] - ref[i]) <= atol + rtol * Math.abs(ref[i])))
      bug(`differs from the default at index ${i}: ${got[i]} vs ${ref[i]}`);
  }
}

/** Measures the candidates of one signature and picks the fastest. */
export async function tuneSignature(gpu: Gpu, sig: MatmulSignature, o: AutotuneOptions = {}): Promise<TuneResult> {
  const probe = new Probe(gpu, sig, { runs: Math.max(5, o.runs ?? 5), warmup: o.warmup ?? 2 });
  try {
    return await search(probe, sig, gpu, o);
  } finally {
    probe.destroy();
  }
}

async function search(probe: Probe, sig: MatmulSignature, gpu: Gpu, o: AutotuneOptions): Promise<TuneResult> {
  const def = defaultConfig(gpu.limits, sig);
  const timings: CandidateTiming[] = [];
  const rejected: string[] = [];
  const tried = new Set<string>();
  const leaders = (): MatmulConfig[] =>
    [...timings]
      .sort((a, b) => a.ms - b.ms)
      .map((t) => t.config)
      .filter((c) => !sameConfig(c, def))
      .slice(0, 3);
  const run = async (cs: readonly MatmulConfig[]): Promise<void> => {
    for (const config of cs) {
      if (tried.has(configLabel(config))) continue;
      tried.add(configLabel(config));
      try {
        timings.push({ config, ms: await probe.measure(config) });
      } catch (e) {
        if (sameConfig(config, def)) throw e; // nothing to compare against without the default
        rejected.push(`${configLabel(config)}: ${(e as Error).message.split("\n")[0]}`);
      }
      probe.keepOnly([def, ...leaders()]);
    }
  };
  await run([def]);
  if (o.candidates) await run(o.candidates(sig));
  else {
    await run(tileCandidates(sig, gpu.limits));
    const fastest = [...timings]
      .sort((a, b) => a.ms - b.ms)
      .slice(0, 2)
      .map((t) => t.config);
    await run(splitCandidates(sig, fastest, gpu.limits));
  }
  // The final round: the default and the three fastest others, measured again.
  const final: CandidateTiming[] = [];
  for (const config of [def, ...leaders()]) final.push({ config, ms: await probe.measure(config) });
  const defaultMs = final[0].ms;
  const fastest = final.reduce((a, b) => (b.ms < a.ms ? b : a));
  const better = fastest.ms < defaultMs * (1 - (o.margin ?? 0.03));
  return {
    signature: sig,
    key: signatureKey(sig),
    defaultConfig: def,
    defaultMs,
    best: better ? fastest.config : def,
    bestMs: better ? fastest.ms : defaultMs,
    candidates: timings,
    rejected,
  };
}

/** Tunes every signature (keys from Program.matmuls), reporting progress one line per signature. */
export async function autotune(gpu: Gpu, keys: readonly string[], o: AutotuneOptions = {}): Promise<TuneResult[]> {
  const out: TuneResult[] = [];
  for (const [i, key] of keys.entries()) {
    const sig = parseSignatureKey(key);
    if (!sig) bug(`malformed matmul signature '${key}'`);
    const r = await tuneSignature(gpu, sig, o);
    o.onProgress?.(
      `  ${i + 1}/${keys.length} ${key}: ${r.candidates.length} candidates, ` +
        `${configLabel(r.best)} ${r.bestMs.toFixed(3)} ms (default ${r.defaultMs.toFixed(3)} ms)` +
        (r.rejected.length ? `; rejected ${r.rejected.join("; ")}` : ""),
    );
    out.push(r);
  }
  return out;
}

/** `base` (this adapter's table so far, if any) with the results added. */
export function tableWith(gpu: Gpu, results: readonly TuneResult[], base?: TuningTable): TuningTable {
  const entries: Record<string, TuningEntry> = {};
  for (const r of results) entries[r.key] = { config: r.best, defaultMs: round(r.defaultMs), bestMs: round(r.bestMs) };
  return withEntries(base ?? emptyTable(adapterKey(gpu)), entries);
}

const round = (ms: number): number => Math.round(ms * 1e4) / 1e4;
