// exprs.ts: the type of every expression — names, arithmetic on static ints and tensors, `@`,
// indexing and slicing, calls of builtins and modules, and `scan`.
import type * as A from "../ast.js";
import { type Dim, dimOp, evalDim, num, printDim, sym } from "../dims.js";
import { type TensorTy, type Ty, UNKNOWN, fmtTensor, fmtTy } from "../types.js";
import { bindArgs } from "./args.js";
import { BUILTINS, BUILTIN_VALUES, type CheckedArg, INIT_NAMES } from "./builtins.js";
import { applyInstance, instantiate } from "./calls.js";
import { type Ctx, Scope } from "./env.js";
import { broadcastTy, matmulTy } from "./shapes.js";
import { type BlockResult, checkBlock, reportUnused } from "./stmts.js";

export function checkExpr(ctx: Ctx, scope: Scope, e: A.Expr): Ty {
  const t = exprType(ctx, scope, e);
  ctx.types?.set(e.span, t);
  return t;
}

function exprType(ctx: Ctx, scope: Scope, e: A.Expr): Ty {
  switch (e.kind) {
    case "number":
      return e.isInt ? { k: "int", dim: num(e.value) } : { k: "float" };
    case "name":
      return lookupName(ctx, scope, e.name, e.span);
    case "neg": {
      const t = checkExpr(ctx, scope, e.operand);
      if (t.k === "int") return { k: "int", dim: dimOp("-", num(0), t.dim) };
      if (t.k === "float" || t.k === "tensor" || t.k === "unknown") return t;
      ctx.report("M2103", e.span, `cannot negate ${fmtTy(t)}`, "unary minus applies to numbers and tensors");
      return UNKNOWN;
    }
    case "binary":
      return checkBinary(ctx, scope, e);
    case "list":
      return { k: "list", items: e.items.map((x) => checkExpr(ctx, scope, x)) };
    case "index":
      return checkIndex(ctx, scope, e);
    case "call":
      return checkCall(ctx, scope, e);
    case "scan":
      return checkScan(ctx, scope, e);
    case "error":
      return UNKNOWN;
  }
}

export function lookupName(ctx: Ctx, scope: Scope, name: string, span: A.Span): Ty {
  const b = scope.lookup(name);
  if (b) {
    b.used = true;
    return b.ty;
  }
  const m = ctx.modules.get(name);
  if (m) return { k: "module", info: m };
  if (Object.hasOwn(BUILTIN_VALUES, name)) return BUILTIN_VALUES[name];
  if (Object.hasOwn(BUILTINS, name)) return { k: "builtin", name };
  if (ctx.interfaces.has(name)) {
    ctx.report("M2103", span, `'${name}' is an interface, not a value`, `construct a module that implements ${name}`);
    return UNKNOWN;
  }
  ctx.unknownName("name", name, span, [
    ...scope.visible(),
    ...ctx.modules.keys(),
    ...Object.keys(BUILTINS),
    ...Object.keys(BUILTIN_VALUES),
  ]);
  return UNKNOWN;
}

const ARITH: Record<string, "+" | "-" | "*" | "/" | "%"> = { "+": "+", "-": "-", "*": "*", "/": "/", "%": "%" };

function checkBinary(ctx: Ctx, scope: Scope, e: A.BinaryExpr): Ty {
  const l = checkExpr(ctx, scope, e.left);
  const r = checkExpr(ctx, scope, e.right);
  if (l.k === "unknown" || r.k === "unknown") return UNKNOWN;
  const isNum = (t: Ty) => t.k === "int" || t.k === "float";
  const compare = ["==", "!=", "<", "<=", ">", ">="].includes(e.op);
  if (e.op === "@") {
    if (l.k === "tensor" && r.k === "tensor") return matmulTy(ctx, l, r, e.span) ?? UNKNOWN;
    ctx.report(
      "M2103",
      e.span,
      `'@' multiplies tensors, not ${fmtTy(l.k === "tensor" ? r : l)}`,
      "use '*' for numbers",
    );
    return UNKNOWN;
  }
  if (l.k === "int" && r.k === "int")
    return compare ? { k: "bool" } : { k: "int", dim: dimOp(ARITH[e.op], l.dim, r.dim) };
  if (isNum(l) && isNum(r)) return compare ? { k: "bool" } : { k: "float" };
  // `%` on tensors is floor-mod, a - floor(a / b) * b, which needs floats (no integer division in the IR).
  const intTensor = [l, r].find((t) => t.k === "tensor" && t.dtype !== "f32" && t.dtype !== "f16");
  if (e.op === "%" && (l.k === "tensor" || r.k === "tensor") && intTensor?.k === "tensor") {
    ctx.report(
      "M2111",
      e.span,
      `'%' on tensors needs floats, not ${fmtTensor(intTensor)}`,
      "cast to f32 first: cast(x, f32) % 2.0 (the result is a - floor(a / b) * b)",
    );
    return UNKNOWN;
  }
  if (l.k === "tensor" && (r.k === "tensor" || isNum(r))) {
    const t = r.k === "tensor" ? broadcastTy(ctx, l, r, e.span, e.op) : l;
    return t && compare ? { ...t, dtype: "bool" } : (t ?? UNKNOWN);
  }
  if (isNum(l) && r.k === "tensor") return compare ? { ...r, dtype: "bool" } : r;
  ctx.report(
    "M2103",
    e.span,
    `'${e.op}' cannot combine ${fmtTy(l)} and ${fmtTy(r)}`,
    "arithmetic works on numbers and tensors",
  );
  return UNKNOWN;
}

function checkIndex(ctx: Ctx, scope: Scope, e: A.IndexExpr): Ty {
  const t = checkExpr(ctx, scope, e.target);
  const tyOf = new Map<A.Expr, Ty>();
  const checkBound = (x: A.Expr | undefined): Ty | undefined => {
    if (!x) return undefined;
    const ty = checkExpr(ctx, scope, x);
    tyOf.set(x, ty);
    return ty;
  };
  const bounds: (Ty | undefined)[][] = e.items.map((it) =>
    it.kind === "at" ? [checkBound(it.index)] : it.kind === "range" ? [it.start, it.end, it.step].map(checkBound) : [],
  );
  const indexDim = (x: A.Expr): Dim => {
    const ty = tyOf.get(x);
    return ty?.k === "int" ? ty.dim : sym("?");
  };
  if (t.k === "unknown") return UNKNOWN;
  if (t.k !== "tensor") {
    ctx.report("M2103", e.span, `only tensors can be indexed, not ${fmtTy(t)}`, "index a tensor, e.g. x[:, 0]");
    return UNKNOWN;
  }
  for (const [i, it] of e.items.entries())
    for (const b of bounds[i])
      if (b && b.k !== "int" && b.k !== "unknown") {
        ctx.report(
          "M2103",
          it.span,
          `an index must be an integer, not ${fmtTy(b)}`,
          "indices and slice bounds are integers, e.g. x[:, 1:]",
        );
        return UNKNOWN;
      }
  const ell = e.items.findIndex((it) => it.kind === "ellipsis");
  const items = e.items.filter((it) => it.kind !== "ellipsis");
  if (e.items.filter((it) => it.kind === "ellipsis").length > 1) {
    ctx.report("M2109", e.span, "an index may hold one '...'", "remove the extra '...'");
    return UNKNOWN;
  }
  if (items.length > t.dims.length && t.rest === undefined) {
    ctx.report(
      "M2109",
      e.span,
      `${items.length} indices for ${fmtTensor(t)} of rank ${t.dims.length}`,
      "give at most one index or slice per axis",
    );
    return UNKNOWN;
  }
  // leading dims unknown: only `...`-anchored indices are checkable
  if (t.rest !== undefined && ell < 0) return UNKNOWN;
  const first = ell < 0 ? 0 : t.dims.length - items.length;
  const dims: Dim[] = [...t.dims.slice(0, first)];
  items.forEach((it, j) => {
    const d = t.dims[first + j];
    if (d === undefined) return;
    if (it.kind === "at") {
      const v = evalDim(indexDim(it.index), ctx.known);
      const size = evalDim(d, ctx.known);
      if (v !== undefined && size !== undefined && (v >= size || v < -size))
        ctx.report(
          "M2109",
          it.span,
          `index ${v} is out of range for axis ${first + j} of ${fmtTensor(t)}`,
          `use an index in ${-size}..${size - 1}`,
        );
      return;
    }
    if (it.kind !== "range") return;
    const bound = (x: A.Expr | undefined, dflt: Dim): Dim => {
      if (!x) return dflt;
      const v = indexDim(x);
      return x.kind === "neg" ? dimOp("+", d, v) : v; // `-m` counts from the end: d + (0 - m)
    };
    const lo = bound(it.start, num(0));
    const hi = bound(it.end, d);
    const lov = evalDim(lo, ctx.known);
    const hiv = evalDim(hi, ctx.known);
    const size = evalDim(d, ctx.known);
    if (lov !== undefined && hiv !== undefined && size !== undefined && !(0 <= lov && lov <= hiv && hiv <= size)) {
      ctx.report(
        "M2109",
        it.span,
        `slice ${lov}:${hiv} is out of range for axis ${first + j} of ${fmtTensor(t)}`,
        `bounds must satisfy 0 ≤ start ≤ end ≤ ${size}`,
      );
    }
    let len = dimOp("-", hi, lo);
    if (it.step) {
      const s = indexDim(it.step);
      len = dimOp("/", dimOp("-", dimOp("+", len, s), num(1)), s);
    }
    dims.push(len);
  });
  dims.push(...t.dims.slice(first + items.length));
  return { ...t, dims };
}

export function checkArgs(ctx: Ctx, scope: Scope, args: readonly A.Arg[]): Map<A.Arg, CheckedArg> {
  return new Map(args.map((a) => [a, { ty: checkExpr(ctx, scope, a.value), span: a.value.span }]));
}

function checkCall(ctx: Ctx, scope: Scope, e: A.CallExpr): Ty {
  const callee = checkExpr(ctx, scope, e.callee);
  const checked = checkArgs(ctx, scope, e.args);
  const calleeName = e.callee.kind === "name" ? e.callee.name : "this value";
  switch (callee.k) {
    case "unknown":
      return UNKNOWN;
    case "builtin": {
      const rule = BUILTINS[callee.name];
      const bound = bindArgs(ctx, e.args, rule.slots, callee.name, e.span);
      if (!bound)
        return callee.name === "normal" || callee.name === "uniform" || callee.name === "constant"
          ? { k: "init" }
          : UNKNOWN;
      return rule.check(
        ctx,
        bound.map((a) => a && checked.get(a)),
        e.span,
      );
    }
    case "module":
      return instantiate(ctx, callee.info, e, checked);
    case "instance":
      return applyInstance(ctx, callee, e, checked);
    default:
      ctx.report(
        "M2103",
        e.callee.span,
        `${calleeName} is ${fmtTy(callee)} and cannot be called`,
        "only modules, module instances and builtin functions take arguments",
      );
      return UNKNOWN;
  }
}

/** Initialisers (`param w: f32[d, d] = normal(0.02)`): bare init names or init calls. */
export function checkInit(ctx: Ctx, scope: Scope, e: A.Expr): void {
  if (e.kind === "name" && (INIT_NAMES as readonly string[]).includes(e.name)) return;
  const t = checkExpr(ctx, scope, e);
  if (t.k !== "init" && t.k !== "unknown")
    ctx.report(
      "M2103",
      e.span,
      "a param initialiser must be zeros, ones, xavier, glorot, normal(std), uniform(lo, hi) or constant(v), " +
        `not ${fmtTy(t)}`,
      "e.g. param w: f32[d, d] = normal(0.02)",
    );
}

function checkScan(ctx: Ctx, scope: Scope, e: A.ScanExpr): Ty {
  const over = checkExpr(ctx, scope, e.over);
  if (over.k !== "int" && over.k !== "unknown")
    ctx.report(
      "M2103",
      e.over.span,
      `scan runs over an integer count (a dim), not ${fmtTy(over)}`,
      "write scan t over T, with T a dim",
    );
  const inner = new Scope(scope);
  inner.define(e.index.name, {
    ty: { k: "int", dim: sym(e.index.name) },
    kind: "index",
    span: e.index.span,
    used: true,
  });
  for (const c of e.carries) {
    const declared = c.type ? resolveType(ctx, scope, c.type, false) : undefined;
    const isInitName = c.init.kind === "name" && (c.init.name === "zeros" || c.init.name === "ones");
    let ty: Ty = isInitName ? UNKNOWN : checkExpr(ctx, scope, c.init);
    if (isInitName && !declared)
      ctx.report(
        "M2103",
        c.init.span,
        `carry '${c.name.name}' = ${(c.init as A.NameExpr).name} needs a declared type`,
        `write carry ${c.name.name}: f32[B, n, d] = ${(c.init as A.NameExpr).name}`,
      );
    if (declared && declared.k === "tensor" && ty.k === "tensor" && fmtTensor(declared) !== fmtTensor(ty))
      ctx.report(
        "M2108",
        c.init.span,
        `carry '${c.name.name}' is declared ${fmtTensor(declared)} but starts as ${fmtTensor(ty)}`,
        "make the initial value match the declared type",
      );
    if (declared) ty = declared;
    inner.define(c.name.name, { ty, kind: "carry", span: c.name.span, used: true });
  }
  const result: BlockResult = { returns: [], yields: [] };
  checkBlock(ctx, inner, e.body.stmts, "scan", result);
  reportUnused(ctx, inner);
  const y = result.yields.at(-1);
  if (!y) {
    ctx.report(
      "M2204",
      e.span,
      "scan body has no yield",
      "end the body with `yield value`: the values are stacked along axis 1",
    );
    return UNKNOWN;
  }
  if (y.k !== "tensor") return UNKNOWN;
  const n = over.k === "int" ? over.dim : sym(e.index.name + ".count");
  if (y.rest !== undefined) return UNKNOWN;
  const at = y.dims.length >= 1 ? 1 : 0;
  return { ...y, dims: [...y.dims.slice(0, at), n, ...y.dims.slice(at)] };
}

// Type expressions ---------------------------------------------------------------------------

/** `f32[B, T * m, d]` → a tensor type. With `allowFree`, unknown names become free dims (signatures,
 *  model inputs); otherwise they are errors. Scalars and interface types resolve to their kinds. */
export function resolveType(ctx: Ctx, scope: Scope, t: A.TypeExpr, allowFree: boolean, free?: Set<string>): Ty {
  const name = t.name.name;
  if (t.dims === undefined) {
    if (name === "int") return { k: "int", dim: sym("?") };
    if (name === "float") return { k: "float" };
    if (name === "bool") return { k: "bool" };
    if (name === "mask") return { k: "mask" };
    if (name === "dtype") return { k: "dtype", dtype: "f32" };
  }
  if (!["f32", "f16", "i32", "u32", "bool"].includes(name)) {
    if (ctx.interfaces.has(name) && t.dims === undefined)
      return { k: "instance", label: name, implements: name, sig: ctx.interfaces.get(name)!.sig, subst: new Map() };
    ctx.unknownName("type", name, t.name.span, [
      "int",
      "float",
      "bool",
      "mask",
      "f32",
      "f16",
      "i32",
      "u32",
      ...ctx.interfaces.keys(),
    ]);
    return UNKNOWN;
  }
  const dims: Dim[] = [];
  let rest: string | undefined;
  for (const [i, d] of (t.dims ?? []).entries()) {
    if (d.kind === "rest") {
      if (i !== 0) ctx.report("M2107", d.span, "'...' may only stand first in a tensor type", "write f32[..., d]");
      rest = "...";
      continue;
    }
    dims.push(dimOf(ctx, scope, d, allowFree, free));
  }
  return { k: "tensor", dtype: name as TensorTy["dtype"], rest, dims };
}

function dimOf(ctx: Ctx, scope: Scope, e: A.Expr, allowFree: boolean, free?: Set<string>): Dim {
  switch (e.kind) {
    case "number":
      if (!e.isInt || e.value < 0)
        ctx.report(
          "M2103",
          e.span,
          `a dimension must be a non-negative integer, not ${e.text}`,
          "dims are whole numbers or names, e.g. f32[B, 64]",
        );
      return num(e.value);
    case "name": {
      const b = scope.lookup(e.name);
      if (b) {
        b.used = true;
        if (b.ty.k === "int") return b.ty.dim;
        if (b.ty.k !== "unknown")
          ctx.report(
            "M2103",
            e.span,
            `dimension '${e.name}' is ${fmtTy(b.ty)}, not an integer`,
            "use an int hyperparameter, config value or free dim",
          );
        return sym(e.name);
      }
      if (allowFree) {
        free?.add(e.name);
        return sym(e.name);
      }
      ctx.unknownName("dimension", e.name, e.span, scope.visible());
      return sym(e.name);
    }
    case "binary":
      if (e.op in ARITH)
        return dimOp(
          ARITH[e.op],
          dimOf(ctx, scope, e.left, allowFree, free),
          dimOf(ctx, scope, e.right, allowFree, free),
        );
      break;
    case "neg":
      return dimOp("-", num(0), dimOf(ctx, scope, e.operand, allowFree, free));
    default:
      break;
  }
  ctx.report(
    "M2103",
    e.span,
    "a dimension must be a name, a number or arithmetic on them",
    "e.g. f32[B, T * m, d / heads]",
  );
  return sym("?");
}

export const printDims = (ds: readonly Dim[]): string => ds.map(printDim).join(", ");
