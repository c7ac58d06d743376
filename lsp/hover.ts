// hover.ts: what a name under the cursor is — a value's type with its symbolic shape (`f32[B, T, d]`),
// a module's or interface's signature, a config key's value under the file's defaults and presets.
import type * as A from "../dsl/ast.js";
import { presetsOf } from "../dsl/config.js";
import { BUILTINS } from "../dsl/check/builtins.js";
import { fmtTensor, fmtTy } from "../dsl/types.js";
import { type Analysis, type Word, contains, findDecl, headerText, hyperOfLabel, modelAt, typeAt } from "./analysis.js";

const code = (s: string) => "```mira\n" + s + "\n```";

export function hoverText(a: Analysis, offset: number, w: Word): string | undefined {
  const imp = a.checked.programs[0]?.decls.find(
    (d): d is A.ImportDecl => d.kind === "import" && contains(d.span, offset),
  );
  if (imp)
    return (
      code(`import ${imp.path.map((p) => p.name).join(".")}`) +
      `\n\n${imp.path.map((p) => p.name).join("/")}.mira under the models root`
    );
  // `heads: 4` in a call names a hyperparameter of the callee, not the value around it; a label that
  // declares something (a config key, a module's input) is recorded with a span that starts at it.
  const isLabel = /^\s*:(?!:)/.test(a.text.slice(w.end));
  const label = isLabel ? hyperOfLabel(a, w) : undefined;
  if (label) {
    const src = a.sources.get(label.hyper.span.file) ?? "";
    return (
      code(`${label.module.name.name}(${src.slice(label.hyper.span.start, label.hyper.span.end)})`) +
      "\n\na hyperparameter of " +
      label.module.name.name
    );
  }
  const config = configHover(a, offset, w, isLabel);
  if (config) return config;
  const ty = typeAt(a, w, isLabel);
  if (isLabel && !ty) return undefined;
  const decl = findDecl(a, w.name);
  if (decl && decl.kind !== "model" && (!ty || ty.k === "module" || ty.k === "unknown")) return declHover(a, decl);
  if (ty && ty.k !== "unknown") {
    if (ty.k === "builtin" && Object.hasOwn(BUILTINS, ty.name))
      return code(`${w.name}: builtin`) + `\n\n${BUILTINS[ty.name].doc}`;
    if (ty.k === "instance" && ty.module)
      return code(`${w.name}: ${fmtTy(ty)}`) + "\n\n" + declHover(a, ty.module.decl);
    return code(`${w.name}: ${fmtTy(ty)}`);
  }
  if (decl && decl.kind === "model") return code(`model ${decl.name.name}`);
  if (Object.hasOwn(BUILTINS, w.name)) return code(`${w.name}: builtin`) + `\n\n${BUILTINS[w.name].doc}`;
  return undefined;
}

function declHover(a: Analysis, d: Exclude<A.Decl, A.ImportDecl | A.ModelDecl>): string {
  const header = headerText(a, d);
  if (d.kind === "interface") return code(header);
  const sig = a.checked.modules.get(d.name.name)?.sig;
  if (!sig) return code(header);
  const inputs = sig.inputs.map((i) => `${i.name}: ${i.ty.k === "tensor" ? fmtTensor(i.ty) : "mask"}`).join(", ");
  return code(header) + (d.impl ? "\n\n" + code(`(${inputs}) -> ${fmtTensor(sig.result)}`) : "");
}

/** A config key, in the config block, a preset or a use in the model body: its type and value by
 *  default, and what each preset sets it to. */
function configHover(a: Analysis, offset: number, w: Word, isLabel: boolean): string | undefined {
  const model = modelAt(a, offset);
  if (!model) return undefined;
  const field = model.body.stmts
    .flatMap((s) => (s.kind === "config" ? s.fields : []))
    .find((f) => f.name.name === w.name);
  if (!field || (isLabel && field.name.span.start !== w.start)) return undefined;
  // A let of the same name in the model body would shadow the key; the checker's type says which.
  const ty = typeAt(a, w);
  const src = (e: A.Expr) => a.text.slice(e.span.start, e.span.end);
  const entry = a.checked.config?.entries.find((e) => e.name === w.name);
  const value = entry ? src(entry.value) : field.default ? src(field.default) : "(no default)";
  const type = field.type
    ? a.text.slice(field.type.span.start, field.type.span.end)
    : ty && ty.k !== "unknown"
      ? fmtTy(ty)
      : "";
  const presets = presetsOf(model).flatMap((p) =>
    p.entries.filter((e) => e.name.name === w.name).map((e) => `- preset ${p.name.name}: \`${src(e.value)}\``),
  );
  return (
    code(`config ${w.name}${type ? `: ${type}` : ""} = ${value}`) + (presets.length ? "\n\n" + presets.join("\n") : "")
  );
}
