// config.ts: which expression each config key takes — its default, then the chosen preset, then
// `--set key=value` overrides (values are parsed as .mira expressions, so interface-typed keys take
// `TTMCombiner(memory: 32, read: 8)`). Pure selection: the checker and the elaborator evaluate.
import type * as A from "./ast.js";
import { type Diagnostic, closest, diag } from "./diagnostics.js";
import { parseExpression } from "./parse.js";

/** The config key the compiler reads as a switch: a model that declares `remat: bool` has its training
 *  step recompute each block's activations in the backward pass when it is true (compiler/remat.ts). */
export const REMAT_KEY = "remat";

/** The config key the compiler reads as the storage precision: a model that declares `precision: dtype`
 *  stores its floating-point values in f16 when it is f16 (compiler/precision.ts), in f32 otherwise. */
export const PRECISION_KEY = "precision";
export const PRECISION_VALUES: readonly string[] = ["f32", "f16"];

export interface ConfigChoice {
  readonly preset?: string;
  /** `key=value` strings as given to `--set`. */
  readonly set?: readonly string[];
}

export interface ConfigEntry {
  readonly name: string;
  readonly field: A.ParamSig;
  readonly value: A.Expr;
  readonly from: "default" | "preset" | "override";
}

export interface ResolvedConfig {
  readonly preset?: string;
  readonly entries: readonly ConfigEntry[];
  /** Sources of override values, keyed by the pseudo-file name their spans use. */
  readonly sources: ReadonlyMap<string, string>;
}

export const configFields = (model: A.ModelDecl): A.ParamSig[] =>
  model.body.stmts.flatMap((s) => (s.kind === "config" ? s.fields : []));
export const presetsOf = (model: A.ModelDecl): Extract<A.Stmt, { kind: "preset" }>[] =>
  model.body.stmts.flatMap((s) => (s.kind === "preset" ? [s] : []));

/** Applies a preset and `--set` overrides to a model's config; never throws. */
export function applyOverrides(
  model: A.ModelDecl,
  choice: ConfigChoice = {},
): { result: ResolvedConfig; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const fields = configFields(model);
  const names = fields.map((f) => f.name.name);
  const chosen = new Map<string, { value: A.Expr; from: ConfigEntry["from"] }>();
  for (const f of fields) if (f.default) chosen.set(f.name.name, { value: f.default, from: "default" });

  if (choice.preset !== undefined) {
    const presets = presetsOf(model);
    const p = presets.find((x) => x.name.name === choice.preset);
    if (!p) {
      const file = "--preset";
      sources.set(file, choice.preset);
      const near = closest(
        choice.preset,
        presets.map((x) => x.name.name),
      );
      diagnostics.push(
        diag(
          "M3001",
          { file, start: 0, end: choice.preset.length },
          `model ${model.name.name} has no preset '${choice.preset}'`,
          near
            ? `did you mean '${near}'?`
            : presets.length
              ? `its presets are: ${presets.map((x) => x.name.name).join(", ")}`
              : "it declares no presets",
        ),
      );
    } else
      for (const e of p.entries)
        if (names.includes(e.name.name)) chosen.set(e.name.name, { value: e.value, from: "preset" });
  }

  for (const raw of choice.set ?? []) {
    const file = `--set ${raw}`;
    sources.set(file, raw);
    const eq = raw.indexOf("=");
    const key = eq < 0 ? "" : raw.slice(0, eq).trim();
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      diagnostics.push(
        diag(
          "M3003",
          { file, start: 0, end: raw.length },
          `'--set ${raw}' is not key=value`,
          "write --set d=96 or --set combiner='TTMCombiner(memory: 32)'",
        ),
      );
      continue;
    }
    if (!names.includes(key)) {
      const near = closest(key, names);
      diagnostics.push(
        diag(
          "M3002",
          { file, start: 0, end: key.length },
          `model ${model.name.name} has no config key '${key}'`,
          near ? `did you mean '${near}'?` : `its keys are: ${names.join(", ")}`,
        ),
      );
      continue;
    }
    // Offsets in the value's spans count from the start of `raw`, so excerpts point into it.
    const parsed = parseExpression(" ".repeat(eq + 1) + raw.slice(eq + 1), file);
    diagnostics.push(
      ...parsed.diagnostics.map((d) =>
        d.code === "M1002" || d.code === "M1001"
          ? { ...d, code: "M3003" as const, message: `bad value for '${key}': ${d.message}` }
          : d,
      ),
    );
    if (parsed.diagnostics.length === 0) chosen.set(key, { value: parsed.result, from: "override" });
  }

  const entries: ConfigEntry[] = [];
  for (const f of fields) {
    const c = chosen.get(f.name.name);
    if (c) entries.push({ name: f.name.name, field: f, value: c.value, from: c.from });
    else
      diagnostics.push(
        diag(
          "M3003",
          f.span,
          `config '${f.name.name}' has no value`,
          `give it a default: ${f.name.name}: ${f.type?.name.name ?? "int"} = ...`,
        ),
      );
  }
  return { result: { preset: choice.preset, entries, sources }, diagnostics };
}
