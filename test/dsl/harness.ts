// harness.ts: shared helpers for the DSL tests — check a source against the real models/ tree plus
// virtual files, optionally elaborate, and read real model files.
import * as fs from "node:fs";
import * as path from "node:path";
import { elaborate } from "../../compiler/lower.js";
import { type Diagnostic, check, hasErrors } from "../../dsl/index.js";
import type { Sources } from "../../dsl/diagnostics.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const MODELS = path.join(ROOT, "models");
export const readModel = (rel: string): string => fs.readFileSync(path.join(MODELS, rel), "utf8");

export interface RunOptions {
  readonly preset?: string;
  readonly set?: readonly string[];
  readonly files?: Readonly<Record<string, string>>;
  readonly elaborate?: Readonly<Record<string, number>>;
  readonly file?: string;
}

export function run(src: string, o: RunOptions = {}): { diagnostics: Diagnostic[]; sources: Sources } {
  const read = (f: string) => {
    const virtual = o.files?.[path.relative(MODELS, f)];
    if (virtual !== undefined) return virtual;
    return fs.existsSync(f) && fs.statSync(f).isFile() ? fs.readFileSync(f, "utf8") : undefined;
  };
  const r = check(src, o.file ?? "case.mira", { root: MODELS, read, preset: o.preset, set: o.set });
  let diagnostics = r.diagnostics;
  if (o.elaborate && !hasErrors(diagnostics)) diagnostics = [...diagnostics, ...elaborate(r.result, { batch: o.elaborate }).diagnostics];
  return { diagnostics, sources: r.sources };
}
