// autotune.ts (api): `autotuneModel(file, …)` — tunes every matmul signature of a model's program on the
// local adapter and merges the choices into its table (runtime/autotune-cache.ts), which every later
// compile for this adapter reads. Signatures depend on the batch sizes, so tune with the batch you train
// or run with. Measuring happens here only, never while compiling.
import { loadavg, cpus } from "node:os";
import { configLabel, describeSignature } from "../compiler/autotune.js";
import { type AutotuneOptions, autotune, programSignatures, tableWith } from "../runtime/autotune.js";
import { adapterKey, readTable, tablePath, writeTable } from "../runtime/autotune-cache.js";
import { adapterName, getGpu } from "../runtime/device.js";
import { compileFile } from "./compile.js";
import type { ModelOptions } from "./model.js";

export interface AutotuneModelOptions extends ModelOptions {
  readonly batch: Readonly<Record<string, number>>;
  /** the training step (default) or the forward pass */
  readonly step?: "train" | "forward";
  readonly onProgress?: (line: string) => void;
  /** timed runs per measurement (at least 5) */
  readonly runs?: number;
}

export interface AutotuneRow {
  readonly signature: string;
  readonly description: string;
  /** matmuls of the program with this signature */
  readonly uses: number;
  readonly defaultConfig: string;
  readonly defaultMs: number;
  readonly bestConfig: string;
  readonly bestMs: number;
  readonly speedup: number;
  readonly candidates: number;
  readonly rejected: readonly string[];
}

export interface AutotuneReport {
  readonly adapter: string;
  readonly adapterKey: string;
  readonly table: string;
  readonly rows: readonly AutotuneRow[];
  /** 1, 5 and 15 minute load averages when tuning ended, and the core count: figures are indicative */
  readonly loadAverage: readonly number[];
  readonly cores: number;
}

export async function autotuneModel(file: string, o: AutotuneModelOptions): Promise<AutotuneReport> {
  const gpu = await getGpu();
  const compiled = await compileFile(file, { preset: o.preset, set: o.set, batch: o.batch, step: o.step ?? "train" });
  const program = compiled.program;
  const keys = programSignatures(program);
  o.onProgress?.(
    `tuning ${keys.length} matmul signatures of ${file} (${o.step ?? "train"}) on ${adapterName(gpu.adapter)}`,
  );
  const tuneOptions: AutotuneOptions = { runs: o.runs, onProgress: o.onProgress };
  const results = await autotune(gpu, keys, tuneOptions);
  const path = tablePath(gpu);
  // Entries of other models (other signatures) measured before are kept; these replace their own.
  const base = readTable(path, adapterKey(gpu), (line) => o.onProgress?.(`${line}; starting a new table`));
  writeTable(path, tableWith(gpu, results, base));
  const uses = (key: string): number => program.matmuls.filter((m) => m.signature === key).length;
  return {
    adapter: adapterName(gpu.adapter),
    adapterKey: adapterKey(gpu),
    table: path,
    rows: results.map((r) => ({
      signature: r.key,
      description: describeSignature(r.signature),
      uses: uses(r.key),
      defaultConfig: configLabel(r.defaultConfig),
      defaultMs: r.defaultMs,
      bestConfig: configLabel(r.best),
      bestMs: r.bestMs,
      speedup: r.defaultMs / r.bestMs,
      candidates: r.candidates.length,
      rejected: r.rejected,
    })),
    loadAverage: loadavg(),
    cores: cpus().length,
  };
}
