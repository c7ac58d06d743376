// decls.ts: the checker's passes over declarations — gather interfaces and modules with their
// signatures, check interface conformance, check each module body once with its hyperparameters
// symbolic, then check the model with its config's values known.
import type * as A from "../ast.js";
import { type Dim, sym } from "../dims.js";
import type { HyperInfo, HyperType, InterfaceInfo, ModuleInfo, SigInput, Signature, Ty } from "../types.js";
import { UNKNOWN, fmtTensor, fmtTy, sameTensor } from "../types.js";
import { fitsHyper, sigSymbols } from "./calls.js";
import { type Ctx, Scope } from "./env.js";
import { checkExpr, resolveType } from "./exprs.js";
import { substTensor } from "./shapes.js";
import { type BlockResult, checkBlock, reportUnused } from "./stmts.js";

/** A hyperparameter's or config key's type: as declared, else inferred from the default — a float,
 *  a bool, the interface its default constructs (`combiner = TTMCombiner(read: 8)`), else int. */
export function hyperType(ctx: Ctx, t: A.TypeExpr | undefined, dflt: A.Expr | undefined): HyperType {
  const n = t?.name.name;
  if (n === undefined) {
    const callee = dflt?.kind === "call" ? dflt.callee : dflt;
    const iface = callee?.kind === "name" ? ctx.implementsOf.get(callee.name) : undefined;
    if (iface) return { k: "iface", name: iface };
    return dflt?.kind === "number" && !dflt.isInt
      ? { k: "float" }
      : dflt?.kind === "name" && (dflt.name === "true" || dflt.name === "false")
        ? { k: "bool" }
        : { k: "int" };
  }
  if (n === "int" || n === "float" || n === "bool" || n === "dtype" || n === "mask") return { k: n };
  if (ctx.interfaces.has(n)) return { k: "iface", name: n };
  ctx.unknownName("type", n, t!.name.span, ["int", "float", "bool", "dtype", "mask", ...ctx.interfaces.keys()]);
  return { k: "int" };
}

function hyperInfos(ctx: Ctx, ps: readonly A.ParamSig[]): HyperInfo[] {
  const seen = new Set<string>();
  return ps.map((p) => {
    if (seen.has(p.name.name))
      ctx.report("M2002", p.name.span, `hyperparameter '${p.name.name}' is listed twice`, "rename one of them");
    seen.add(p.name.name);
    return { name: p.name.name, type: hyperType(ctx, p.type, p.default), default: p.default, span: p.span };
  });
}

/** A hyperparameter's type in the module body: ints are symbols of their own name. */
function hyperTy(h: HyperInfo, ctx: Ctx): Ty {
  switch (h.type.k) {
    case "int":
      return { k: "int", dim: sym(h.name) };
    case "dtype":
      return { k: "dtype", dtype: "f32" };
    case "iface":
      return {
        k: "instance",
        label: h.name,
        implements: h.type.name,
        sig: ctx.interfaces.get(h.type.name)?.sig,
        subst: new Map(),
      };
    default:
      return { k: h.type.k };
  }
}

function hyperScope(ctx: Ctx, hypers: readonly HyperInfo[]): Scope {
  const s = new Scope();
  for (const h of hypers) s.define(h.name, { ty: hyperTy(h, ctx), kind: "hyper", span: h.span, used: true });
  return s;
}

function signature(
  ctx: Ctx,
  scope: Scope,
  inputs: readonly A.ParamSig[],
  result: A.TypeExpr | undefined,
  free: Set<string>,
): Signature | undefined {
  const sigInputs: SigInput[] = [];
  for (const p of inputs) {
    const ty = p.type ? resolveType(ctx, scope, p.type, true, free) : UNKNOWN;
    if (ty.k === "tensor" || ty.k === "mask")
      sigInputs.push({ name: p.name.name, ty, default: p.default, span: p.span });
    else {
      if (ty.k !== "unknown")
        ctx.report(
          "M2103",
          p.span,
          `input '${p.name.name}' must have a tensor type like f32[B, T, d] or be a mask, not ${fmtTy(ty)}`,
          "give the input a type like f32[B, T, d]",
        );
      return undefined;
    }
  }
  const inFree = new Set(free);
  const res = result ? resolveType(ctx, scope, result, true, free) : UNKNOWN;
  if (res.k !== "tensor") return undefined;
  const outputOnly = [...free].filter((f) => !inFree.has(f));
  return { inputs: sigInputs, result: res, outputOnly };
}

/** Gathers interfaces and modules; `taken` holds names already declared (by cached imports). */
export function collectDecls(
  ctx: Ctx,
  programs: readonly A.Program[],
  taken: ReadonlyMap<string, A.Span> = new Map(),
): void {
  const seen = new Map<string, A.Span>(taken);
  const claim = (id: A.Ident) => {
    if (id.name === "") return false;
    const prev = seen.get(id.name);
    if (prev) {
      ctx.report("M2002", id.span, `'${id.name}' is declared twice`, `rename one; the other is at ${prev.file}`);
      return false;
    }
    seen.set(id.name, id.span);
    return true;
  };
  const decls = programs.flatMap((p) => p.decls);
  for (const d of decls)
    if (d.kind === "module" && d.impl && d.name.name && !ctx.implementsOf.has(d.name.name))
      ctx.implementsOf.set(d.name.name, d.impl.iface.name);
  for (const d of decls) {
    if (d.kind !== "interface" || !claim(d.name)) continue;
    const info: InterfaceInfo = {
      name: d.name.name,
      decl: d,
      sig: signature(ctx, new Scope(), d.inputs, d.result, new Set()),
    };
    ctx.interfaces.set(info.name, info);
  }
  for (const d of decls) {
    if (d.kind === "model") claim(d.name);
    if (d.kind !== "module" || !claim(d.name)) continue;
    const hypers = hyperInfos(ctx, d.hypers);
    const sig = d.impl
      ? implementedSignature(ctx, d, hypers)
      : signature(ctx, hyperScope(ctx, hypers), d.inputs ?? [], d.result, new Set());
    ctx.modules.set(d.name.name, { name: d.name.name, decl: d, hypers, sig, implements: d.impl?.iface.name });
  }
}

/** `module X(...) implements I(out = m)`: I's signature with its output-only dims fixed. */
function implementedSignature(ctx: Ctx, d: A.ModuleDecl, hypers: readonly HyperInfo[]): Signature | undefined {
  const impl = d.impl!;
  const iface = ctx.interfaces.get(impl.iface.name);
  if (!iface) {
    ctx.unknownName("interface", impl.iface.name, impl.iface.span, ctx.interfaces.keys());
    return undefined;
  }
  if (!iface.sig) return undefined;
  const scope = hyperScope(ctx, hypers);
  // The interface's input dims are visible to the bindings (`out = Nv + Na`).
  for (const s of sigSymbols(iface.sig))
    if (!iface.sig.outputOnly.includes(s) && !scope.own(s))
      scope.define(s, { ty: { k: "int", dim: sym(s) }, kind: "dim", used: true });
  const map = new Map<string, Dim>();
  for (const b of impl.bindings) {
    if (!iface.sig.outputOnly.includes(b.name.name)) {
      ctx.report(
        "M2202",
        b.name.span,
        `${iface.name} has no output dimension '${b.name.name}' to fix`,
        iface.sig.outputOnly.length
          ? `it leaves ${iface.sig.outputOnly.map((o) => `'${o}'`).join(", ")} to implementations`
          : `${iface.name} fixes all its dimensions itself`,
      );
      continue;
    }
    const t = checkExpr(ctx, scope, b.value);
    if (t.k === "int") map.set(b.name.name, t.dim);
    else if (t.k !== "unknown")
      ctx.report(
        "M2103",
        b.value.span,
        `'${b.name.name}' must be fixed to an integer, not ${fmtTy(t)}`,
        "fix it to an expression over hyperparameters and input dims, e.g. out = m",
      );
  }
  const missing = iface.sig.outputOnly.filter((o) => !impl.bindings.some((b) => b.name.name === o));
  if (missing.length) {
    ctx.report(
      "M2201",
      impl.span,
      `${d.name.name} must fix ${iface.name}'s output dimension${missing.length > 1 ? "s" : ""} ` +
        `${missing.map((m) => `'${m}'`).join(", ")}`,
      `write implements ${iface.name}(${missing.map((m) => `${m} = ...`).join(", ")})`,
    );
    return undefined;
  }
  const inputs = iface.sig.inputs.map((i) => ({ ...i, ty: i.ty.k === "tensor" ? substTensor(i.ty, map) : i.ty }));
  return { inputs, result: substTensor(iface.sig.result, map), outputOnly: [] };
}

/** Checks one module body with its hyperparameters and free dims symbolic. */
export function checkModule(ctx: Ctx, info: ModuleInfo): void {
  ctx.known = new Map();
  const scope = hyperScope(ctx, info.hypers);
  for (const h of info.hypers) {
    if (h.default) {
      // Every kind is checked, interface-typed defaults included (`mix: Mixer = LayerNorm(4)` is M2203).
      fitsHyper(ctx, h.type, checkExpr(ctx, scope, h.default), h.default.span, `the default of '${h.name}'`);
    }
  }
  const sig = info.sig;
  if (!sig) return;
  const body = new Scope(scope);
  for (const s of sigSymbols(sig))
    if (!scope.own(s)) body.define(s, { ty: { k: "int", dim: sym(s) }, kind: "dim", used: true });
  for (const i of sig.inputs) {
    body.define(i.name, { ty: i.ty, kind: "input", span: i.span, used: true });
    ctx.types?.set(i.span, i.ty);
  }
  const result: BlockResult = { returns: [], yields: [] };
  checkBlock(ctx, body, info.decl.body.stmts, "module", result);
  const ret = result.returns.at(-1);
  const last = info.decl.body.stmts.at(-1);
  if (!ret || last?.kind !== "return")
    ctx.report(
      "M2204",
      info.decl.name.span,
      `module ${info.name} does not end with a return`,
      `end the body with return <value of type ${fmtTensor(sig.result)}>`,
    );
  else if (ret.k === "tensor" && !sameTensor(ret, sig.result, ctx.known)) {
    const target = info.implements ? `${info.implements} requires` : "the module declares";
    ctx.report(
      "M2108",
      last.span,
      `${info.name} returns ${fmtTensor(ret)} but ${target} ${fmtTensor(sig.result)}`,
      "fix the returned value or the declared result type",
    );
  } else if (ret.k !== "tensor" && ret.k !== "unknown")
    ctx.report(
      "M2108",
      last.span,
      `${info.name} returns ${fmtTy(ret)} but must return ${fmtTensor(sig.result)}`,
      "return a tensor of the declared type",
    );
  reportUnused(ctx, body);
}
