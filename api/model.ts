// model.ts (api): a .mira model file, checked once for a preset and overrides, elaborated to IR on
// demand for concrete batch sizes. Errors carry the formatted diagnostics (file:line:col, caret, hint).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type Elaborated, elaborate } from "../compiler/lower.js";
import { withPrecision } from "../compiler/precision.js";
import { type Diagnostic, check, formatDiagnostics, hasErrors } from "../dsl/index.js";
import type { Checked } from "../dsl/check.js";
import type { Sources } from "../dsl/diagnostics.js";
import { InputError, MiraError } from "../base/errors.js";

export { InputError };

/** A model that does not check or elaborate; the message holds every diagnostic, formatted. */
export class ModelError extends MiraError {
  // "failure", like a compiler that rejects its source: 2 is kept for command lines and files that cannot be read
  readonly kind = "failure";
  override name = "ModelError";
  constructor(
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
  }
}

export interface ModelOptions {
  readonly preset?: string;
  readonly set?: readonly string[];
}

export interface LoadedModel {
  readonly path: string;
  readonly source: string;
  /** sha256 of the model file and every file it imports, in load order */
  readonly sourceHash: string;
  readonly preset?: string;
  readonly set: readonly string[];
  readonly checked: Checked;
  /** every source text the model was checked from, for diagnostics of later passes */
  readonly sources: Sources;
  /** Elaborates for concrete batch dims, e.g. { B: 8, T: 64 }. */
  elaborate(batch: Readonly<Record<string, number>>): Elaborated;
  /** The config as resolved for the preset and overrides. */
  config(): Readonly<Record<string, number | boolean | string>>;
}

/** A model from source text (`path` names it in diagnostics and anchors its imports). */
export function modelFromSource(source: string, path: string, opts: ModelOptions = {}): LoadedModel {
  const r = check(source, path, { preset: opts.preset, set: opts.set });
  if (hasErrors(r.diagnostics)) throw new ModelError(formatDiagnostics(r.diagnostics, r.sources), r.diagnostics);
  const hash = createHash("sha256");
  for (const [file, text] of r.sources)
    hash
      .update(file.replace(/^.*\/models\//, "models/"))
      .update("\0")
      .update(text)
      .update("\0");
  const checked = r.result;
  let config: Elaborated["config"] | undefined;
  const run = (batch: Readonly<Record<string, number>>, defaultBatch?: number): Elaborated => {
    const e = elaborate(checked, { batch, defaultBatch });
    if (!e.result || hasErrors(e.diagnostics))
      throw new ModelError(formatDiagnostics(e.diagnostics, r.sources), e.diagnostics);
    // a model whose `precision` is f16 stores its values in f16 (compiler/precision.ts)
    return withPrecision(e.result);
  };
  return {
    path,
    source,
    sourceHash: hash.digest("hex"),
    preset: opts.preset,
    set: opts.set ?? [],
    checked,
    sources: r.sources,
    elaborate: (batch) => run(batch),
    config: () => (config ??= run({}, 2).config),
  };
}

export function loadModel(path: string, opts: ModelOptions = {}): LoadedModel {
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: ${code === "ENOENT" ? "no such file" : "cannot read it"}`);
  }
  return modelFromSource(source, path, opts);
}

/** A numeric config value of the model, or undefined when it has none of that name. */
export function configNumber(model: LoadedModel, name: string): number | undefined {
  const v = model.config()[name];
  return typeof v === "number" ? v : undefined;
}
