// builtin-families.ts: type rules shared by families of builtins, each a function of the builtin's name.
import { num } from "../dims.js";
import { UNKNOWN, fmtTensor } from "../types.js";
import type { Slot } from "./args.js";
import { type BuiltinRule, axisOf, dtypeArg, intList, tensorArg } from "./builtin-args.js";
import { broadcastTy, scalarTy } from "./shapes.js";

export function elementwise(name: string, anyDtype: boolean): BuiltinRule {
  return {
    slots: [{ name: "x" }],
    doc: `${name}(x), elementwise`,
    check(ctx, [x]) {
      if (x?.ty.k === "float" || x?.ty.k === "int") return { k: "float" };
      const t = tensorArg(ctx, x, `the argument of ${name}`);
      if (!t) return UNKNOWN;
      if (!anyDtype && t.dtype !== "f32" && t.dtype !== "f16")
        ctx.report(
          "M2111",
          x!.span,
          `${name} needs a float tensor, got ${fmtTensor(t)}`,
          "convert it with cast(x, f32)",
        );
      return t;
    },
  };
}

export function binaryRule(name: string): BuiltinRule {
  return {
    slots: [{ name: "a" }, { name: "b" }],
    doc: `${name}(a, b), elementwise with broadcasting`,
    check(ctx, [a, b], span) {
      const x = tensorArg(ctx, a, `the first argument of ${name}`);
      const y = b?.ty.k === "int" || b?.ty.k === "float" ? x : tensorArg(ctx, b, `the second argument of ${name}`);
      return x && y ? (broadcastTy(ctx, x, y, span, name) ?? UNKNOWN) : UNKNOWN;
    },
  };
}

export function reduction(name: string): BuiltinRule {
  return {
    slots: [{ name: "x" }, { name: "axis", optional: true }, { name: "keep", optional: true }],
    doc: `${name}(x, axis: a | [a, b], keep: false)`,
    check(ctx, [x, axis, keep]) {
      const t = tensorArg(ctx, x, `the argument of ${name}`);
      if (!t) return UNKNOWN;
      if (!axis) return scalarTy(t.dtype);
      const list = axis.ty.k === "list" ? axis.ty.items.map((ty) => ({ ty, span: axis.span })) : [axis];
      const axes = list.map((a) => axisOf(ctx, a, t, 0));
      if (axes.some((a) => a === undefined) || t.rest !== undefined)
        return t.rest !== undefined ? { ...t, dims: t.dims.slice(0, -1) } : UNKNOWN;
      const kept = keep?.ty.k === "bool";
      return { ...t, dims: t.dims.flatMap((d, i) => (axes.includes(i) ? (kept ? [num(1)] : []) : [d])) };
    },
  };
}

export const softmaxRule = (name: string): BuiltinRule => ({
  slots: [{ name: "x" }, { name: "axis", optional: true }],
  doc: `${name}(x, axis: -1)`,
  check(ctx, [x, axis]) {
    const t = tensorArg(ctx, x, `the argument of ${name}`);
    if (t && axis) axisOf(ctx, axis, t, -1);
    return t ?? UNKNOWN;
  },
});

export const fill = (name: string, withValue: boolean): BuiltinRule => ({
  slots: withValue
    ? [{ name: "shape" }, { name: "value" }, { name: "dtype", optional: true }]
    : [{ name: "shape" }, { name: "dtype", optional: true }],
  doc: `${name}([dims]${withValue ? ", value" : ""}, dtype: f32)`,
  check(ctx, args) {
    const dims = intList(ctx, args[0], "the shape");
    return dims ? { k: "tensor", dtype: dtypeArg(args[withValue ? 2 : 1], "f32"), dims } : UNKNOWN;
  },
});

export const init = (slots: Slot[], doc: string): BuiltinRule => ({ slots, doc, check: () => ({ k: "init" }) });
export const mask = (slots: Slot[], doc: string): BuiltinRule => ({ slots, doc, check: () => ({ k: "mask" }) });

/** One rule per name, keeping the names in the type (Object.fromEntries would widen them to string). */
export function each<N extends string>(names: readonly N[], rule: (name: N) => BuiltinRule): Record<N, BuiltinRule> {
  return Object.fromEntries(names.map((n) => [n, rule(n)])) as Record<N, BuiltinRule>;
}
