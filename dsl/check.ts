// check.ts: the checker's entry point. Names, arity, types and symbolic shapes of every module
// (once, generically) and of the chosen model (with its config resolved). Collects diagnostics and
// never throws: after an error a value has the unknown type, which every rule accepts.
import type * as A from "./ast.js";
import { type ConfigChoice, type ResolvedConfig, applyOverrides } from "./config.js";
import type { Diagnostic } from "./diagnostics.js";
import { checkModule, collectDecls } from "./check/decls.js";
import { Ctx } from "./check/env.js";
import { checkModel } from "./check/model.js";
import type { ModelRecord } from "./check/stmts.js";
import type { ModuleInfo } from "./types.js";

export interface CheckOptions extends ConfigChoice {
  /** Which model of the entry file; the first one when absent. */
  readonly model?: string;
}

export interface Checked {
  /** The entry file first, then its imports. */
  readonly programs: readonly A.Program[];
  readonly modules: ReadonlyMap<string, ModuleInfo>;
  readonly model?: A.ModelDecl;
  readonly config?: ResolvedConfig;
  readonly record?: ModelRecord;
}

export function checkPrograms(programs: readonly A.Program[], opts: CheckOptions = {}): { result: Checked; diagnostics: Diagnostic[] } {
  const ctx = new Ctx();
  collectDecls(ctx, programs);
  for (const info of ctx.modules.values()) checkModule(ctx, info);
  const models = (programs[0]?.decls ?? []).filter((d): d is A.ModelDecl => d.kind === "model");
  const model = opts.model ? models.find((m) => m.name.name === opts.model) : models[0];
  if (!model) return { result: { programs, modules: ctx.modules }, diagnostics: ctx.diagnostics };
  const cfg = applyOverrides(model, opts);
  const { record, config } = checkModel(ctx, model, cfg.result);
  return { result: { programs, modules: ctx.modules, model, config, record }, diagnostics: [...cfg.diagnostics, ...ctx.diagnostics] };
}
