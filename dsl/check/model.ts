// model.ts: checks a model with its config resolved — config values first (ints become known dims),
// every preset's keys and value kinds, then the body and the entry points it declares.
import type * as A from "../ast.js";
import type { ConfigEntry, ResolvedConfig } from "../config.js";
import { PRECISION_KEY, PRECISION_VALUES, REMAT_KEY, presetsOf } from "../config.js";
import { closest } from "../diagnostics.js";
import { evalDim, printDim, sym } from "../dims.js";
import type { Ty } from "../types.js";
import { fitsHyper } from "./calls.js";
import { hyperType } from "./decls.js";
import { type Ctx, Scope } from "./env.js";
import { BUILTINS, BUILTIN_VALUES } from "./builtins.js";
import { checkExpr } from "./exprs.js";
import { type BlockResult, type ModelRecord, checkBlock, reportUnused } from "./stmts.js";

/** Checks the model; returns what it declares and the config with interface values normalised
 *  (`TTM(read: 8)` → `TTMCombiner(read: 8)`, bare `ConcatCombiner` → `ConcatCombiner()`). */
export function checkModel(
  ctx: Ctx,
  model: A.ModelDecl,
  config: ResolvedConfig,
): { record: ModelRecord; config: ResolvedConfig } {
  ctx.known = new Map();
  const scope = new Scope();
  const types = new Map<string, ReturnType<typeof hyperType>>();
  const entries: ConfigEntry[] = [];
  for (const e0 of config.entries) {
    if (scope.own(e0.name)) {
      ctx.report("M2002", e0.field.name.span, `config '${e0.name}' is declared twice`, "remove one of them");
      continue;
    }
    const want = hyperType(ctx, e0.field.type, e0.field.default);
    if (e0.name === REMAT_KEY && want.k !== "bool")
      ctx.report(
        "M2103",
        e0.field.name.span,
        `config '${REMAT_KEY}' switches rematerialisation of the training step, so it must be bool, ` +
          `not ${want.k === "iface" ? want.name : want.k}`,
        `declare it as ${REMAT_KEY}: bool = false`,
      );
    if (e0.name === PRECISION_KEY) checkPrecision(ctx, e0, want);
    types.set(e0.name, want);
    const e = want.k === "iface" ? { ...e0, value: implementationValue(ctx, scope, e0.value, want.name) } : e0;
    entries.push(e);
    let ty: Ty = checkExpr(ctx, scope, e.value);
    const what =
      `config '${e.name}'` +
      `${e.from === "default" ? "" : ` (from ${e.from === "preset" ? `preset ${config.preset}` : "--set"})`}`;
    if (!fitsHyper(ctx, want, ty, e.value.span, what)) ty = fallback(ctx, scope, e, want);
    if (ty.k === "int") {
      const v = evalDim(ty.dim, ctx.known);
      if (v === undefined || !Number.isInteger(v))
        ctx.report(
          "M2103",
          e.value.span,
          `${what} must be a whole constant, not '${printDim(ty.dim)}'`,
          "use numbers and earlier config keys",
        );
      else ctx.known.set(e.name, v);
      ty = { k: "int", dim: sym(e.name) };
    } else if (ty.k === "instance") ty = { ...ty, label: e.name }; // results print as combiner.out
    scope.define(e.name, { ty, kind: "config", span: e.field.name.span, used: true });
    ctx.types?.set(e.field.name.span, ty);
  }
  checkPresets(ctx, model, scope, types, config.preset);
  const checkedConfig: ResolvedConfig = { ...config, entries };

  const record: ModelRecord = { inputs: [], outputs: [], losses: [] };
  const body = new Scope(scope);
  const result: BlockResult = { returns: [], yields: [] };
  checkBlock(ctx, body, model.body.stmts, "model", result, record);
  reportUnused(ctx, body);
  if (record.outputs.length === 0 && record.losses.length === 0)
    ctx.report(
      "M2302",
      model.name.span,
      `model ${model.name.name} declares no output and no loss`,
      "add `output logits = ...` or `loss name = ...`",
    );
  else if (record.losses.length > 0 && !record.objective)
    ctx.report(
      "M2302",
      model.name.span,
      `model ${model.name.name} has losses but no objective`,
      `add objective = ${record.losses.map((l) => l.name).join(" + ")}`,
    );
  return { record, config: checkedConfig };
}

/** After a bad preset or `--set` value, the default's type (checked quietly), so that one bad value
 *  is one error and not a cascade of shape errors downstream. */
function fallback(ctx: Ctx, scope: Scope, e: ConfigEntry, want: ReturnType<typeof hyperType>): Ty {
  const dflt = e.field.default;
  if (e.from === "default" || !dflt) return { k: "unknown" };
  const n = ctx.diagnostics.length;
  const ty = checkExpr(ctx, scope, want.k === "iface" ? implementationValue(ctx, scope, dflt, want.name) : dflt);
  const ok = fitsHyper(ctx, want, ty, dflt.span, "");
  ctx.diagnostics.length = n;
  return ok ? ty : { k: "unknown" };
}

/** An interface-typed value may name its implementation without the interface's name as a suffix
 *  (`TTM(memory: 32)` for `TTMCombiner(memory: 32)`) and without parentheses when the defaults do
 *  (`ConcatCombiner`); both are rewritten to the plain construction, which the elaborator then runs. */
export function implementationValue(ctx: Ctx, scope: Scope, value: A.Expr, iface: string): A.Expr {
  const callee = value.kind === "call" ? value.callee : value;
  if (callee.kind !== "name" || scope.lookup(callee.name)) return value;
  const own = ctx.modules.get(callee.name);
  const full = ctx.modules.get(callee.name + iface);
  // `TokenLearner` names a std.nn module that is no Combiner; `TokenLearnerCombiner` is the one meant.
  const info = own?.implements !== iface && full?.implements === iface ? full : (own ?? full);
  if (!info && !Object.hasOwn(BUILTINS, callee.name) && !Object.hasOwn(BUILTIN_VALUES, callee.name)) {
    const impls = [...ctx.modules.values()].filter((m) => m.implements === iface).map((m) => m.name);
    const near = closest(callee.name, [
      ...impls,
      ...impls.map((n) => (n.endsWith(iface) ? n.slice(0, -iface.length) : n)),
    ]);
    ctx.report(
      "M2001",
      callee.span,
      `unknown implementation '${callee.name}' of ${iface}`,
      `${near ? `did you mean '${near}'? ` : ""}the implementations of ${iface} are: ${impls.join(", ") || "none yet"}`,
    );
    return { kind: "error", span: value.span };
  }
  // Only implementations are completed; anything else is left for fitsHyper to report (M2203).
  if (!info || info.implements !== iface || (info === own && value.kind === "call")) return value;
  const renamed: A.NameExpr = { kind: "name", span: callee.span, name: info.name };
  if (value.kind === "call") return { ...value, callee: renamed };
  return { kind: "call", span: value.span, callee: renamed, args: [] };
}

/** Every preset's keys and value kinds; the chosen preset's values were checked as the config, so
 *  only its keys are checked here (one error per mistake, not two). */
function checkPresets(
  ctx: Ctx,
  model: A.ModelDecl,
  scope: Scope,
  types: ReadonlyMap<string, ReturnType<typeof hyperType>>,
  chosen: string | undefined,
): void {
  const seen = new Set<string>();
  for (const p of presetsOf(model)) {
    if (seen.has(p.name.name))
      ctx.report("M2002", p.name.span, `preset '${p.name.name}' is declared twice`, "rename or merge them");
    seen.add(p.name.name);
    for (const e of p.entries) {
      const want = types.get(e.name.name);
      if (!want) {
        const near = closest(e.name.name, types.keys());
        ctx.report(
          "M3002",
          e.name.span,
          `preset ${p.name.name} sets '${e.name.name}', which is not a config key`,
          near ? `did you mean '${near}'?` : "declare it in the config block first",
        );
        continue;
      }
      if (p.name.name === chosen) continue;
      const ty = checkExpr(
        ctx,
        scope,
        want.k === "iface" ? implementationValue(ctx, scope, e.value, want.name) : e.value,
      );
      fitsHyper(ctx, want, ty, e.value.span, `'${e.name.name}' in preset ${p.name.name}`);
    }
  }
}

/** The config key `precision` chooses how values are stored: a dtype, f32 or f16. */
function checkPrecision(ctx: Ctx, e: ConfigEntry, want: ReturnType<typeof hyperType>): void {
  const choices = PRECISION_VALUES.join(" or ");
  if (want.k !== "dtype")
    ctx.report(
      "M2103",
      e.field.name.span,
      `config '${PRECISION_KEY}' chooses how floating-point values are stored, so it must be a dtype, ` +
        `not ${want.k === "iface" ? want.name : want.k}`,
      `declare it as ${PRECISION_KEY}: dtype = f32`,
    );
  else if (e.value.kind === "name" && !PRECISION_VALUES.includes(e.value.name))
    ctx.report(
      "M2103",
      e.value.span,
      `config '${PRECISION_KEY}' is ${e.value.name}, but values are stored as ${choices}`,
      `set ${PRECISION_KEY}=f16 to halve the memory of weights and activations, or f32`,
    );
}
