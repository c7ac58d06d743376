// calls.ts: module construction `Linear(d, V)` (hyperparameters bound to the caller's dims) and
// application `inst(x)` (the signature's free dims unified with the arguments' shapes). The result
// type is the signature's result under both bindings; an interface's output-only dim that no
// implementation fixed becomes a fresh symbol named after the instance (`combiner.out`).
import type * as A from "../ast.js";
import { type Dim, sym, symbolsOf } from "../dims.js";
import { type ModuleInfo, type Signature, type TensorTy, type Ty, UNKNOWN, fmtTy } from "../types.js";
import { bindArgs } from "./args.js";
import type { CheckedArg } from "./builtins.js";
import { type Ctx, Scope } from "./env.js";
import { checkExpr } from "./exprs.js";
import { substTensor, unifyArg } from "./shapes.js";

type InstanceTy = Extract<Ty, { k: "instance" }>;

const EXAMPLES = {
  int: "an integer such as 64",
  float: "a number such as 0.5",
  bool: "true or false",
  dtype: "a dtype such as f32",
  mask: "a mask such as causal",
} as const;

/** Whether a value of type `t` may stand where hyperparameter type `want` is expected. */
export function fitsHyper(
  ctx: Ctx,
  want: ModuleInfo["hypers"][number]["type"],
  t: Ty,
  span: A.Span,
  what: string,
): boolean {
  if (t.k === "unknown") return true;
  const ok =
    want.k === "float"
      ? t.k === "float" || t.k === "int"
      : want.k === "iface"
        ? t.k === "instance" && t.implements === want.name
        : t.k === want.k;
  if (ok) return true;
  if (want.k === "iface") {
    const impls = [...ctx.modules.values()].filter((m) => m.implements === want.name).map((m) => m.name);
    const other = t.k === "instance" ? (t.module?.name ?? t.implements) : t.k === "module" ? t.info.name : undefined;
    const is =
      t.k === "instance" && other && t.implements
        ? `${other} implements ${t.implements}, not ${want.name}`
        : t.k === "module" && t.info.implements === want.name
          ? `${other} needs its hyperparameters: ${other}(...)`
          : other
            ? `${other} does not implement it`
            : `is ${fmtTy(t)}`;
    ctx.report(
      "M2203",
      span,
      `${what} must implement ${want.name}, but ${is}`,
      impls.length
        ? `the implementations of ${want.name} are: ${impls.join(", ")}`
        : `declare one: module X(...) implements ${want.name}(...) { ... }`,
    );
  } else
    ctx.report(
      "M2103",
      span,
      `${what} must be ${want.k}, not ${fmtTy(t)}`,
      `give it ${EXAMPLES[want.k]}, or change the declared type`,
    );
  return false;
}

export function instantiate(ctx: Ctx, info: ModuleInfo, call: A.CallExpr, checked: ReadonlyMap<A.Arg, CheckedArg>): Ty {
  const bound = bindArgs(
    ctx,
    call.args,
    info.hypers.map((h) => ({ name: h.name, optional: h.default !== undefined })),
    info.name,
    call.span,
  );
  if (!bound) return UNKNOWN;
  const subst = new Map<string, Dim>();
  // Defaults may name earlier hyperparameters (`hidden: int = 4 * d`): evaluate them in a scope that
  // holds the caller's values, quietly, since the module's own check reports their errors.
  const defaults = new Scope();
  let ok = true;
  info.hypers.forEach((h, i) => {
    const a = bound[i];
    let ty: Ty = UNKNOWN;
    if (a) {
      ty = checked.get(a)?.ty ?? UNKNOWN;
      ok = fitsHyper(ctx, h.type, ty, a.value.span, `hyperparameter '${h.name}' of ${info.name}`) && ok;
    } else if (h.default) {
      const n = ctx.diagnostics.length;
      ty = checkExpr(ctx, defaults, h.default);
      ctx.diagnostics.length = n;
    }
    if (ty.k === "int") subst.set(h.name, ty.dim);
    defaults.define(h.name, { ty, kind: "hyper", used: true });
  });
  if (!ok) return UNKNOWN;
  return { k: "instance", label: info.name, sig: info.sig, subst, implements: info.implements, module: info };
}

export function sigSymbols(sig: Signature): Set<string> {
  const out = new Set<string>();
  const add = (t: TensorTy) => t.dims.forEach((d) => symbolsOf(d, out));
  for (const i of sig.inputs) if (i.ty.k === "tensor") add(i.ty);
  add(sig.result);
  return out;
}

export function applyInstance(
  ctx: Ctx,
  inst: InstanceTy,
  call: A.CallExpr,
  checked: ReadonlyMap<A.Arg, CheckedArg>,
): Ty {
  const sig = inst.sig;
  if (!sig) return UNKNOWN;
  const bound = bindArgs(
    ctx,
    call.args,
    sig.inputs.map((p) => ({ name: p.name, optional: p.default !== undefined })),
    inst.label,
    call.span,
  );
  if (!bound) return UNKNOWN;
  const map = new Map(inst.subst);
  const free = new Set([...sigSymbols(sig)].filter((s) => !inst.subst.has(s)));
  const rests = new Map<string, { rest?: string; dims: Dim[] }>();
  let ok = true;
  sig.inputs.forEach((p, i) => {
    const a = bound[i];
    if (!a) return;
    const t = checked.get(a)?.ty ?? UNKNOWN;
    if (t.k === "unknown") {
      ok = false;
      return;
    }
    const what = `argument '${p.name}' of ${inst.label}`;
    if (p.ty.k === "mask") {
      if (t.k !== "mask") {
        ctx.report(
          "M2103",
          a.value.span,
          `${what} must be a mask, not ${fmtTy(t)}`,
          "use none, causal, cross, block_causal(m) or padding(lengths)",
        );
        ok = false;
      }
      return;
    }
    if (t.k !== "tensor") {
      ctx.report(
        "M2103",
        a.value.span,
        `${what} must be a tensor, not ${fmtTy(t)}`,
        "pass a tensor; module hyperparameters go in the first parentheses",
      );
      ok = false;
      return;
    }
    ok = unifyArg(ctx, p.ty, t, map, free, rests, what, a.value.span) && ok;
  });
  if (!ok) return UNKNOWN;
  for (const s of free) if (!map.has(s)) map.set(s, sym(`${inst.label}.${s}`));
  return substTensor(sig.result, map, rests);
}
