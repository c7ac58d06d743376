// check.ts: the checker's entry point. Names, arity, types and symbolic shapes of every module
// (once, generically) and of the chosen model (with its config resolved). Collects diagnostics and
// never throws: after an error a value has the unknown type, which every rule accepts.
import { createHash } from "node:crypto";
import type * as A from "./ast.js";
import { type ConfigChoice, type ResolvedConfig, applyOverrides } from "./config.js";
import type { Diagnostic } from "./diagnostics.js";
import { checkModule, collectDecls } from "./check/decls.js";
import { Ctx } from "./check/env.js";
import { checkModel } from "./check/model.js";
import type { ModelRecord } from "./check/stmts.js";
import type { InterfaceInfo, ModuleInfo, Ty } from "./types.js";

/** The imported files of a check, checked on their own: their declarations and diagnostics. */
interface CheckedImports {
  readonly modules: ReadonlyMap<string, ModuleInfo>;
  readonly interfaces: ReadonlyMap<string, InterfaceInfo>;
  readonly implementsOf: ReadonlyMap<string, string>;
  readonly names: ReadonlyMap<string, A.Span>;
  readonly diagnostics: readonly Diagnostic[];
}

/** By content hash of the imported files (names and texts), so re-checking edits of one model — a
 *  fuzzer's mutants, an editor's keystrokes — checks std.nn once. Plain data, never mutated. */
const importCache = new Map<string, CheckedImports | undefined>();

/** How often the imports of a check were found checked already (hits) or checked anew (misses). */
export const importCacheStats = { hits: 0, misses: 0 };

/** Imports checked apart from the entry, or undefined when that could change the result: their
 *  texts are unknown, or on their own they have errors (they might use a name the entry declares,
 *  as the shared namespace allows), so the entry and its imports are checked together instead. */
function importsChecked(
  imports: readonly A.Program[],
  sources: ReadonlyMap<string, string> | undefined,
): CheckedImports | undefined {
  if (imports.length === 0 || !sources) return undefined;
  const hash = createHash("sha256");
  for (const p of imports) {
    const text = sources.get(p.file);
    if (text === undefined) return undefined;
    hash.update(p.file).update("\0").update(text).update("\0");
  }
  const key = hash.digest("hex");
  if (importCache.has(key)) {
    importCacheStats.hits++;
    return importCache.get(key);
  }
  importCacheStats.misses++;
  const ctx = new Ctx();
  collectDecls(ctx, imports);
  for (const info of ctx.modules.values()) checkModule(ctx, info);
  const names = new Map<string, A.Span>();
  for (const d of imports.flatMap((p) => p.decls))
    if (d.kind !== "import" && !names.has(d.name.name)) names.set(d.name.name, d.name.span);
  const ok = !ctx.diagnostics.some((d) => d.severity === "error");
  const result = ok
    ? {
        modules: ctx.modules,
        interfaces: ctx.interfaces,
        implementsOf: ctx.implementsOf,
        names,
        diagnostics: ctx.diagnostics,
      }
    : undefined;
  if (importCache.size >= 32) importCache.clear();
  importCache.set(key, result);
  return result;
}

export interface CheckOptions extends ConfigChoice {
  /** Which model of the entry file; the first one when absent. */
  readonly model?: string;
  /** Keep the type of every expression and binding name, for hover (`Checked.types`). */
  readonly recordTypes?: boolean;
}

export interface Checked {
  /** The entry file first, then its imports. */
  readonly programs: readonly A.Program[];
  readonly modules: ReadonlyMap<string, ModuleInfo>;
  readonly model?: A.ModelDecl;
  readonly config?: ResolvedConfig;
  readonly record?: ModelRecord;
  /** With `recordTypes`: the type of each checked expression and binding name, by its span. */
  readonly types?: ReadonlyMap<A.Span, Ty>;
}

export function checkPrograms(
  programs: readonly A.Program[],
  opts: CheckOptions = {},
  sources?: ReadonlyMap<string, string>,
): { result: Checked; diagnostics: Diagnostic[] } {
  const ctx = new Ctx();
  if (opts.recordTypes) ctx.types = new Map();
  const imports = importsChecked(programs.slice(1), sources);
  if (imports) {
    // The imports (std.nn …) were checked once for their text; only the entry file is checked here.
    for (const [k, v] of imports.modules) ctx.modules.set(k, v);
    for (const [k, v] of imports.interfaces) ctx.interfaces.set(k, v);
    for (const [k, v] of imports.implementsOf) ctx.implementsOf.set(k, v);
    ctx.diagnostics.push(...imports.diagnostics);
    collectDecls(ctx, programs.slice(0, 1), imports.names);
    for (const info of ctx.modules.values()) if (!imports.modules.has(info.name)) checkModule(ctx, info);
  } else {
    collectDecls(ctx, programs);
    for (const info of ctx.modules.values()) checkModule(ctx, info);
  }
  const models = (programs[0]?.decls ?? []).filter((d): d is A.ModelDecl => d.kind === "model");
  const model = opts.model ? models.find((m) => m.name.name === opts.model) : models[0];
  if (!model) return { result: { programs, modules: ctx.modules, types: ctx.types }, diagnostics: ctx.diagnostics };
  const cfg = applyOverrides(model, opts);
  const { record, config } = checkModel(ctx, model, cfg.result);
  return {
    result: { programs, modules: ctx.modules, model, config, record, types: ctx.types },
    diagnostics: [...cfg.diagnostics, ...ctx.diagnostics],
  };
}
