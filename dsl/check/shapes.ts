// shapes.ts: symbolic shape rules of the checker — broadcasting, matmul, and unifying a call's
// arguments with a signature. Each rule reports with both shapes and returns undefined on error.
import type * as A from "../ast.js";
import { type Dim, dimEq, num, printDim, substDim, symbolsOf } from "../dims.js";
import { type TensorTy, fmtTensor } from "../types.js";
import type { Ctx } from "./env.js";

const isOne = (d: Dim): boolean => d.k === "num" && d.v === 1;

export function broadcastTy(ctx: Ctx, a: TensorTy, b: TensorTy, span: A.Span, op: string): TensorTy | undefined {
  if (a.dtype !== b.dtype) {
    ctx.report(
      "M2111",
      span,
      `'${op}' needs one dtype: ${fmtTensor(a)} ${op} ${fmtTensor(b)}`,
      `convert one side with cast(x, ${a.dtype})`,
    );
    return undefined;
  }
  const n = Math.max(a.dims.length, b.dims.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a.dims[a.dims.length - n + i];
    const db = b.dims[b.dims.length - n + i];
    if (da === undefined || db === undefined) {
      out.push((da ?? db) as Dim);
      continue;
    }
    if (dimEq(da, db, ctx.known) || isOne(db)) out.push(da);
    else if (isOne(da)) out.push(db);
    else {
      ctx.report(
        "M2105",
        span,
        `shapes do not broadcast: ${fmtTensor(a)} ${op} ${fmtTensor(b)}`,
        `'${printDim(da)}' and '${printDim(db)}' differ; reshape one operand or fix the dimension`,
      );
      return undefined;
    }
  }
  return { k: "tensor", dtype: a.dtype, rest: a.rest ?? b.rest, dims: out };
}

export function matmulTy(ctx: Ctx, a: TensorTy, b: TensorTy, span: A.Span): TensorTy | undefined {
  if (a.dtype !== b.dtype) {
    ctx.report(
      "M2111",
      span,
      `'@' needs one dtype: ${fmtTensor(a)} @ ${fmtTensor(b)}`,
      `convert one side with cast(x, ${a.dtype})`,
    );
    return undefined;
  }
  const rankOk = (t: TensorTy) => t.dims.length >= 2 || (t.rest !== undefined && t.dims.length >= 1);
  if (!rankOk(a) || !rankOk(b)) {
    ctx.report(
      "M2107",
      span,
      `'@' needs operands of rank ≥ 2: ${fmtTensor(a)} @ ${fmtTensor(b)}`,
      "reshape a vector to [1, n] or [n, 1]",
    );
    return undefined;
  }
  const k1 = a.dims[a.dims.length - 1];
  const k2 = b.dims.length >= 2 ? b.dims[b.dims.length - 2] : undefined;
  if (k2 !== undefined && !dimEq(k1, k2, ctx.known)) {
    ctx.report(
      "M2104",
      span,
      `matmul inner dimensions differ: ${fmtTensor(a)} @ ${fmtTensor(b)}`,
      `the last dim of the left operand ('${printDim(k1)}') ` +
        `must equal the second-last of the right ('${printDim(k2)}'); transpose an operand or fix the dimension`,
    );
    return undefined;
  }
  const n = b.dims[b.dims.length - 1];
  if (b.dims.length === 2) return { k: "tensor", dtype: a.dtype, rest: a.rest, dims: [...a.dims.slice(0, -1), n] };
  if (a.rest !== undefined || b.rest !== undefined)
    return {
      k: "tensor",
      dtype: a.dtype,
      rest: a.rest ?? b.rest,
      dims: [...a.dims.slice(a.rest !== undefined ? 0 : -2, -1), n],
    };
  const batch = broadcastTy(ctx, { ...a, dims: a.dims.slice(0, -2) }, { ...b, dims: b.dims.slice(0, -2) }, span, "@");
  if (!batch) return undefined;
  return { k: "tensor", dtype: a.dtype, dims: [...batch.dims, a.dims[a.dims.length - 2], n] };
}

/** Binds a signature's free dims from one argument; returns false after reporting a mismatch. */
export function unifyArg(
  ctx: Ctx,
  expected: TensorTy,
  actual: TensorTy,
  map: Map<string, Dim>,
  free: ReadonlySet<string>,
  rests: Map<string, { rest?: string; dims: Dim[] }>,
  what: string,
  span: A.Span,
): boolean {
  const shown = () => fmtTensor(substTensor(expected, map, rests));
  if (expected.dtype !== actual.dtype) {
    ctx.report(
      "M2111",
      span,
      `${what} is ${fmtTensor(actual)} but must be ${shown()}`,
      `convert it with cast(x, ${expected.dtype})`,
    );
    return false;
  }
  const ne = expected.dims.length;
  const na = actual.dims.length;
  if (expected.rest === undefined && actual.rest === undefined && ne !== na) {
    ctx.report(
      "M2107",
      span,
      `${what} is ${fmtTensor(actual)} but must be ${shown()} (rank ${ne}, not ${na})`,
      "reshape the argument to the expected rank",
    );
    return false;
  }
  if (expected.rest !== undefined && actual.rest === undefined && na < ne) {
    ctx.report(
      "M2107",
      span,
      `${what} is ${fmtTensor(actual)} but must be ${shown()} (rank ≥ ${ne})`,
      "reshape the argument to the expected rank",
    );
    return false;
  }
  if (expected.rest !== undefined)
    rests.set(expected.rest, { rest: actual.rest, dims: actual.dims.slice(0, Math.max(0, na - ne)) });
  const pairs: [Dim, Dim][] = [];
  const m = Math.min(ne, na);
  for (let i = 1; i <= m; i++) pairs.push([expected.dims[ne - i], actual.dims[na - i]]);
  // Bare free names bind first, so `[B, T * m]` can be checked once T is known from another dim.
  for (const [e, a] of pairs) if (e.k === "sym" && free.has(e.name) && !map.has(e.name)) map.set(e.name, a);
  for (const [e, a] of pairs) {
    const es = substDim(e, map);
    if ([...symbolsOf(es)].some((s) => free.has(s) && !map.has(s))) continue;
    if (!dimEq(es, a, ctx.known)) {
      ctx.report(
        "M2106",
        span,
        `${what} is ${fmtTensor(actual)} but must be ${shown()}`,
        `dimension '${printDim(a)}' does not equal '${printDim(es)}'`,
      );
      return false;
    }
  }
  return true;
}

export function substTensor(
  t: TensorTy,
  map: ReadonlyMap<string, Dim>,
  rests: ReadonlyMap<string, { rest?: string; dims: Dim[] }> = new Map(),
): TensorTy {
  const dims = t.dims.map((d) => substDim(d, map));
  if (t.rest === undefined) return { ...t, dims };
  const r = rests.get(t.rest);
  return r ? { k: "tensor", dtype: t.dtype, rest: r.rest, dims: [...r.dims, ...dims] } : { ...t, dims };
}

export const scalarTy = (dtype: TensorTy["dtype"] = "f32"): TensorTy => ({ k: "tensor", dtype, dims: [] });
export const ONE = num(1);
