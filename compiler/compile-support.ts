// compile-support.ts: `mira compile FILE --emit params|ir` as a function to { output, exitCode }:
// check, then elaborate for the preset, overrides and batch sizes. `params` lists names, shapes and
// the total without allocating any weight.
import * as fs from "node:fs";
import { type Diagnostic, check, formatDiagnostics, hasErrors } from "../dsl/index.js";
import { printGraph } from "./ir.js";
import { type Elaborated, elaborate } from "./lower.js";

export interface EmitOptions {
  readonly preset?: string;
  readonly set?: readonly string[];
  /** Batch dims, e.g. { B: 2, T: 16 }; dims a model names but this omits are reported (M3004). */
  readonly batch?: Readonly<Record<string, number>>;
  readonly emit: "params" | "ir";
  readonly json?: boolean;
}

export interface EmitResult {
  readonly output: string;
  readonly exitCode: 0 | 1 | 2;
  readonly elaborated?: Elaborated;
}

/** Check + elaborate a file; the building block of every `compile` emitter. */
export function elaborateFile(
  path: string,
  source: string,
  opts: Omit<EmitOptions, "emit" | "json"> & { defaultBatch?: number },
): { result?: Elaborated; diagnostics: Diagnostic[]; sources: ReadonlyMap<string, string> } {
  const checked = check(source, path, { preset: opts.preset, set: opts.set });
  if (hasErrors(checked.diagnostics)) return { diagnostics: checked.diagnostics, sources: checked.sources };
  const el = elaborate(checked.result, { batch: opts.batch, defaultBatch: opts.defaultBatch });
  return { result: el.result, diagnostics: [...checked.diagnostics, ...el.diagnostics], sources: checked.sources };
}

export function emitElaborated(path: string, opts: EmitOptions): EmitResult {
  let source: string;
  try {
    source = fs.readFileSync(path, "utf8");
  } catch {
    return { output: `${path}: cannot read it`, exitCode: 2 };
  }
  // Parameter shapes never depend on batch sizes, so `params` needs none bound.
  const r = elaborateFile(path, source, { ...opts, defaultBatch: opts.emit === "params" ? 2 : undefined });
  if (!r.result || hasErrors(r.diagnostics))
    return { output: formatDiagnostics(r.diagnostics, r.sources), exitCode: 1 };
  const e = r.result;
  if (opts.emit === "ir") return { output: printGraph(e.graph), exitCode: 0, elaborated: e };
  if (opts.json)
    return {
      output: JSON.stringify({ params: e.params, paramCount: e.paramCount }, null, 2),
      exitCode: 0,
      elaborated: e,
    };
  const width = Math.max(4, ...e.params.map((p) => p.name.length));
  const rows = e.params.map((p) => `${p.name.padEnd(width)}  ${p.dtype}[${p.shape.join(", ")}]  ${p.init.kind}`);
  return {
    output: [...rows, `${e.params.length} tensors, ${e.paramCount.toLocaleString("en-US")} parameters`].join("\n"),
    exitCode: 0,
    elaborated: e,
  };
}
