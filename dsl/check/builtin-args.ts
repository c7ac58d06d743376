// builtin-args.ts: what a builtin's type rule is, and how rules read (and report) their arguments.
import type * as A from "../ast.js";
import { type Dim, evalDim, num, printDim } from "../dims.js";
import { type DType, type TensorTy, type Ty, fmtTensor, fmtTy } from "../types.js";
import type { Slot } from "./args.js";
import type { Ctx } from "./env.js";

export interface CheckedArg {
  readonly ty: Ty;
  readonly span: A.Span;
}

export interface BuiltinRule {
  readonly slots: readonly Slot[];
  readonly doc: string;
  check(ctx: Ctx, args: readonly (CheckedArg | undefined)[], span: A.Span): Ty;
}

export function tensorArg(ctx: Ctx, a: CheckedArg | undefined, what: string): TensorTy | undefined {
  if (!a || a.ty.k === "unknown") return undefined;
  if (a.ty.k === "tensor") return a.ty;
  ctx.report("M2103", a.span, `${what} must be a tensor, not ${fmtTy(a.ty)}`, "pass a tensor value here");
  return undefined;
}

/** A compile-time integer (axis, size); symbolic dims are fine where `symbolic` is set. */
export function intArg(ctx: Ctx, a: CheckedArg | undefined, what: string): Dim | undefined {
  if (!a || a.ty.k === "unknown") return undefined;
  if (a.ty.k === "int") return a.ty.dim;
  ctx.report(
    "M2103",
    a.span,
    `${what} must be an integer, not ${fmtTy(a.ty)}`,
    "use an integer literal, a dim or integer config value",
  );
  return undefined;
}

export function constInt(ctx: Ctx, a: CheckedArg | undefined, what: string): number | undefined {
  const d = intArg(ctx, a, what);
  if (!d || !a) return undefined;
  const v = evalDim(d, ctx.known);
  if (v === undefined)
    ctx.report("M2103", a.span, `${what} must be a constant, not '${printDim(d)}'`, "use a literal such as -1");
  return v;
}

export function intList(ctx: Ctx, a: CheckedArg | undefined, what: string): Dim[] | undefined {
  if (!a || a.ty.k === "unknown") return undefined;
  if (a.ty.k === "int") return [a.ty.dim];
  if (a.ty.k !== "list" || a.ty.items.some((t) => t.k !== "int" && t.k !== "unknown")) {
    ctx.report(
      "M2103",
      a.span,
      `${what} must be a list of integers like [B, T, d], not ${fmtTy(a.ty)}`,
      "write the dims as a list, e.g. [B, T * m, d]",
    );
    return undefined;
  }
  return a.ty.items.map((t) => (t.k === "int" ? t.dim : num(1)));
}

export function axisOf(ctx: Ctx, a: CheckedArg | undefined, t: TensorTy, fallback: number): number | undefined {
  const v = a ? constInt(ctx, a, "axis") : fallback;
  if (v === undefined) return undefined;
  // with unknown leading dims only end-relative axes are checkable
  if (t.rest !== undefined) return v < 0 ? v : undefined;
  const r = t.dims.length;
  if (v < -r || v >= r) {
    ctx.report(
      "M2109",
      a?.span ?? { file: "", start: 0, end: 0 },
      `axis ${v} is out of range for ${fmtTensor(t)}`,
      `use an axis in ${-r}..${r - 1}`,
    );
    return undefined;
  }
  return v < 0 ? v + r : v;
}

export const dtypeArg = (a: CheckedArg | undefined, fallback: DType): DType =>
  a?.ty.k === "dtype" ? a.ty.dtype : fallback;
