// harness.ts: shared helpers for the DSL tests — check a source against the real models/ tree plus
// virtual files, optionally elaborate, and read real model files.
import * as fs from "node:fs";
import * as path from "node:path";
import { DecodeError, deriveDecoder } from "../../compiler/decode.js";
import { elaborate } from "../../compiler/lower.js";
import { StreamError, deriveStream } from "../../compiler/stream.js";
import { type Diagnostic, check, hasErrors } from "../../dsl/index.js";
import type { Sources } from "../../dsl/diagnostics.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const MODELS = path.join(ROOT, "models");
export const readModel = (rel: string): string => fs.readFileSync(path.join(MODELS, rel), "utf8");
/** Every model and std library file under models/. */
export const REAL_MODELS: readonly string[] = [
  "char_lm.mira",
  "combiner_demo.mira",
  "mirasol.mira",
  "std/nn.mira",
  "std/vit.mira",
  "std/combiners.mira",
  "std/chunks.mira",
  "std/losses.mira",
];

export interface RunOptions {
  readonly preset?: string;
  readonly set?: readonly string[];
  readonly files?: Readonly<Record<string, string>>;
  readonly elaborate?: Readonly<Record<string, number>>;
  /** also derive the incremental decoder, the generated input's length bound as `decode` names */
  readonly decode?: string;
  /** also derive the streaming encoder, the chunk count being the config key `stream` names */
  readonly stream?: string;
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
  if (o.stream && o.decode && !hasErrors(diagnostics)) {
    const [key, seq] = [o.stream, o.decode];
    try {
      const at = (C: number) =>
        check(src, o.file ?? "case.mira", {
          root: MODELS,
          read,
          preset: o.preset,
          set: [...(o.set ?? []), `${key}=${C}`],
        }).result;
      deriveStream((C, T) => elaborate(at(C), { batch: { ...o.elaborate, [seq]: T } }).result!, {
        maxChunks: 4,
        sources: r.sources,
      });
    } catch (e) {
      if (!(e instanceof StreamError) || !e.diagnostic) throw e;
      diagnostics = [...diagnostics, e.diagnostic];
    }
    return { diagnostics, sources: r.sources };
  }
  if (o.elaborate && !o.decode && !hasErrors(diagnostics))
    diagnostics = [...diagnostics, ...elaborate(r.result, { batch: o.elaborate }).diagnostics];
  if (o.decode && !hasErrors(diagnostics)) {
    const seq = o.decode;
    try {
      deriveDecoder((T) => elaborate(r.result, { batch: { ...o.elaborate, [seq]: T } }).result!, {
        maxLen: 8,
        sources: r.sources,
      });
    } catch (e) {
      if (!(e instanceof DecodeError) || !e.diagnostic) throw e;
      diagnostics = [...diagnostics, e.diagnostic];
    }
  }
  return { diagnostics, sources: r.sources };
}
