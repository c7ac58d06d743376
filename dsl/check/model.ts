// model.ts: checks a model with its config resolved — config values first (ints become known dims),
// every preset's keys and value kinds, then the body and the entry points it declares.
import type * as A from "../ast.js";
import type { ResolvedConfig } from "../config.js";
import { presetsOf } from "../config.js";
import { closest } from "../diagnostics.js";
import { evalDim, printDim, sym } from "../dims.js";
import type { Ty } from "../types.js";
import { fitsHyper } from "./calls.js";
import { hyperType, reportUnused } from "./decls.js";
import { type Ctx, Scope } from "./env.js";
import { checkExpr } from "./exprs.js";
import { type BlockResult, type ModelRecord, checkBlock } from "./stmts.js";

export function checkModel(ctx: Ctx, model: A.ModelDecl, config: ResolvedConfig): ModelRecord {
  ctx.known = new Map();
  const scope = new Scope();
  const types = new Map<string, ReturnType<typeof hyperType>>();
  for (const e of config.entries) {
    if (scope.own(e.name)) {
      ctx.report("M2002", e.field.name.span, `config '${e.name}' is declared twice`, "remove one of them");
      continue;
    }
    const want = hyperType(ctx, e.field.type, e.field.default);
    types.set(e.name, want);
    let ty: Ty = checkExpr(ctx, scope, e.value);
    const what = `config '${e.name}'${e.from === "default" ? "" : ` (from ${e.from === "preset" ? `preset ${config.preset}` : "--set"})`}`;
    if (!fitsHyper(ctx, want, ty, e.value.span, what)) ty = { k: "unknown" };
    if (ty.k === "int") {
      const v = evalDim(ty.dim, ctx.known);
      if (v === undefined || !Number.isInteger(v)) ctx.report("M2103", e.value.span, `${what} must be a whole constant, not '${printDim(ty.dim)}'`, "use numbers and earlier config keys");
      else ctx.known.set(e.name, v);
      ty = { k: "int", dim: sym(e.name) };
    } else if (ty.k === "instance") ty = { ...ty, label: e.name }; // results print as combiner.out
    scope.define(e.name, { ty, kind: "config", span: e.field.name.span, used: true });
  }
  checkPresets(ctx, model, scope, types);

  const record: ModelRecord = { inputs: [], outputs: [], losses: [] };
  const body = new Scope(scope);
  const result: BlockResult = { returns: [], yields: [] };
  checkBlock(ctx, body, model.body.stmts, "model", result, record);
  reportUnused(ctx, body);
  if (record.outputs.length === 0 && record.losses.length === 0) ctx.report("M2302", model.name.span, `model ${model.name.name} declares no output and no loss`, "add `output logits = ...` or `loss name = ...`");
  else if (record.losses.length > 0 && !record.objective) ctx.report("M2302", model.name.span, `model ${model.name.name} has losses but no objective`, `add objective = ${record.losses.map((l) => l.name).join(" + ")}`);
  return record;
}

function checkPresets(ctx: Ctx, model: A.ModelDecl, scope: Scope, types: ReadonlyMap<string, ReturnType<typeof hyperType>>): void {
  const seen = new Set<string>();
  for (const p of presetsOf(model)) {
    if (seen.has(p.name.name)) ctx.report("M2002", p.name.span, `preset '${p.name.name}' is declared twice`, "rename or merge them");
    seen.add(p.name.name);
    for (const e of p.entries) {
      const want = types.get(e.name.name);
      if (!want) {
        const near = closest(e.name.name, types.keys());
        ctx.report("M3002", e.name.span, `preset ${p.name.name} sets '${e.name.name}', which is not a config key`, near ? `did you mean '${near}'?` : "declare it in the config block first");
        continue;
      }
      const ty = checkExpr(ctx, scope, e.value);
      fitsHyper(ctx, want, ty, e.value.span, `'${e.name.name}' in preset ${p.name.name}`);
    }
  }
}

