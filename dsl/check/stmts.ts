// stmts.ts: statements in module bodies, model bodies, `repeat` and `scan` blocks: bindings,
// parameters, loop-carried assignments, returns and yields, and the model's entry points.
import type * as A from "../ast.js";
import { dimEq, sym } from "../dims.js";
import { type Ty, UNKNOWN, fmtTy } from "../types.js";
import { type Ctx, type Place, Scope } from "./env.js";
import { fitsHyper } from "./calls.js";
import { checkExpr, checkInit, resolveType } from "./exprs.js";

export interface BlockResult {
  returns: Ty[];
  yields: Ty[];
}

/** What a model declares, gathered while its body is checked. */
export interface ModelRecord {
  inputs: { name: string; ty: Ty; span: A.Span }[];
  outputs: { name: string; ty: Ty; span: A.Span }[];
  losses: { name: string; ty: Ty; span: A.Span }[];
  objective?: A.Span;
  generate?: { input: string; from: string; span: A.Span };
}

const ALLOWED: Record<A.Stmt["kind"], readonly Place[]> = {
  let: ["module", "model", "repeat", "scan"],
  assign: ["module", "model", "repeat", "scan"],
  repeat: ["module", "model", "repeat", "scan"],
  param: ["module", "model"],
  return: ["module"],
  yield: ["scan"],
  input: ["model"],
  output: ["model"],
  loss: ["model"],
  objective: ["model"],
  generate: ["model"],
  config: ["model"],
  preset: ["model"],
};

const PLACE_WORDS: Record<Place, string> = {
  module: "a module body",
  model: "a model",
  repeat: "a repeat block",
  scan: "a scan body",
};

const sameTy = (ctx: Ctx, a: Ty, b: Ty): boolean => {
  if (a.k === "unknown" || b.k === "unknown") return true;
  if (a.k === "tensor" && b.k === "tensor")
    return (
      fmtTy(a) === fmtTy(b) ||
      (a.dtype === b.dtype &&
        a.rest === b.rest &&
        a.dims.length === b.dims.length &&
        a.dims.every((d, i) => dimEqKnown(ctx, d, b.dims[i])))
    );
  return a.k === b.k;
};

const dimEqKnown = (ctx: Ctx, a: Parameters<typeof dimEq>[0], b: Parameters<typeof dimEq>[1]) => dimEq(a, b, ctx.known);

export function checkBlock(
  ctx: Ctx,
  scope: Scope,
  stmts: readonly A.Stmt[],
  place: Place,
  result: BlockResult,
  model?: ModelRecord,
): void {
  for (const s of stmts) checkStmt(ctx, scope, s, place, result, model);
}

function define(ctx: Ctx, scope: Scope, name: A.Ident, ty: Ty, kind: "let" | "param" | "input"): void {
  if (name.name === "") return;
  const prev = scope.own(name.name);
  if (prev && prev.kind !== "builtin")
    ctx.report(
      "M2002",
      name.span,
      `'${name.name}' is already defined in this block`,
      "choose another name, or assign with `name = value` to update it",
    );
  // Params, and instances constructed by a let, must be used: otherwise their parameters vanish.
  const tracked = kind === "param" || (kind === "let" && ty.k === "instance" && ty.module !== undefined);
  scope.define(name.name, { ty, kind, span: name.span, used: !tracked });
  ctx.types?.set(name.span, ty);
}

/** M2301 for params and M2303 for let-bound module instances that nothing uses. */
export function reportUnused(ctx: Ctx, scope: Scope): void {
  for (const [name, b] of scope.ownBindings()) {
    if (b.used || !b.span) continue;
    if (b.kind === "param")
      ctx.report("M2301", b.span, `param '${name}' is never used`, `use it in the body or remove it`);
    else if (b.kind === "let" && b.ty.k === "instance")
      ctx.report(
        "M2303",
        b.span,
        `'${name}' is a ${b.ty.module?.name ?? "module"} instance that is never called, ` +
          "so its parameters would not exist",
        `call it, e.g. ${name}(x), or remove the let`,
      );
  }
}

function checkStmt(ctx: Ctx, scope: Scope, s: A.Stmt, place: Place, result: BlockResult, model?: ModelRecord): void {
  if (!ALLOWED[s.kind].includes(place)) {
    const where = ALLOWED[s.kind].map((p) => PLACE_WORDS[p]).join(" or ");
    ctx.report(
      "M2006",
      s.span,
      `'${s.kind}' is not allowed in ${PLACE_WORDS[place]}`,
      `'${s.kind}' belongs in ${where}`,
    );
    return;
  }
  switch (s.kind) {
    case "let": {
      let ty = checkExpr(ctx, scope, s.value);
      if (s.type) {
        const want = resolveType(ctx, scope, s.type, false);
        // A value that does not conform becomes unknown from here on: one error, no cascade.
        if (want.k === "instance" && want.implements)
          ty = fitsHyper(ctx, { k: "iface", name: want.implements }, ty, s.value.span, `'${s.name.name}'`)
            ? ty
            : UNKNOWN;
        else if (!sameTy(ctx, want, ty))
          ctx.report(
            "M2108",
            s.value.span,
            `'${s.name.name}' is declared ${fmtTy(want)} but the value is ${fmtTy(ty)}`,
            "fix the annotation or the expression",
          );
        if (want.k !== "unknown" && want.k !== "instance") ty = want; // an implementation keeps its bound dims
      }
      define(ctx, scope, s.name, ty, "let");
      return;
    }
    case "assign": {
      const ty = checkExpr(ctx, scope, s.value);
      const b = scope.lookup(s.name.name);
      if (!b) {
        ctx.unknownName("variable", s.name.name, s.name.span, scope.visible());
        return;
      }
      if (b.kind !== "let" && b.kind !== "carry" && b.kind !== "input") {
        ctx.report(
          "M2103",
          s.name.span,
          `cannot assign to ${b.kind} '${s.name.name}'`,
          `bind a new name with let ${s.name.name}2 = ...`,
        );
        return;
      }
      // A variable from outside a loop, and a scan's carry, keep their type, so every iteration sees
      // the same shapes.
      if (
        ((!scope.own(s.name.name) && (place === "repeat" || place === "scan")) || b.kind === "carry") &&
        !sameTy(ctx, b.ty, ty)
      ) {
        ctx.report(
          "M2108",
          s.value.span,
          `'${s.name.name}' changes type inside ${PLACE_WORDS[place]}: ${fmtTy(b.ty)} before, ${fmtTy(ty)} after`,
          "a value carried across iterations must keep its shape",
        );
        return;
      }
      if (ty.k !== "unknown") b.ty = ty; // after an error keep the old type, so later uses still check
      return;
    }
    case "param": {
      const ty = resolveType(ctx, scope, s.type, false);
      if (ty.k !== "tensor" && ty.k !== "unknown")
        ctx.report(
          "M2103",
          s.type.span,
          `a param must have a tensor type like f32[d, d], not ${fmtTy(ty)}`,
          "e.g. param w: f32[d_in, d_out] = xavier",
        );
      if (s.init) checkInit(ctx, scope, s.init);
      define(ctx, scope, s.name, ty.k === "tensor" ? ty : UNKNOWN, "param");
      return;
    }
    case "repeat": {
      const n = checkExpr(ctx, scope, s.count);
      if (n.k !== "int" && n.k !== "unknown")
        ctx.report(
          "M2103",
          s.count.span,
          `repeat needs an integer count, not ${fmtTy(n)}`,
          "use an int, e.g. repeat depth { ... }",
        );
      const inner = new Scope(scope);
      checkBlock(ctx, inner, s.body.stmts, "repeat", result, model);
      reportUnused(ctx, inner);
      return;
    }
    case "return":
      result.returns.push(checkExpr(ctx, scope, s.value));
      return;
    case "yield":
      result.yields.push(checkExpr(ctx, scope, s.value));
      return;
    case "input": {
      const free = new Set<string>();
      const ty = resolveType(ctx, scope, s.type, true, free);
      // Batch dims named by inputs (B, T) become names the rest of the model can use in shapes.
      for (const f of free)
        if (!scope.lookup(f)) scope.define(f, { ty: { k: "int", dim: sym(f) }, kind: "dim", used: true });
      if (ty.k !== "tensor" && ty.k !== "unknown")
        ctx.report(
          "M2103",
          s.type.span,
          `an input must have a tensor type like i32[B, T], not ${fmtTy(ty)}`,
          "e.g. input tokens: i32[B, T]",
        );
      define(ctx, scope, s.name, ty, "input");
      model?.inputs.push({ name: s.name.name, ty, span: s.span });
      return;
    }
    case "output":
    case "loss": {
      const ty = checkExpr(ctx, scope, s.value);
      if (ty.k !== "tensor" && ty.k !== "unknown")
        ctx.report(
          "M2103",
          s.value.span,
          `${s.kind} '${s.name.name}' must be a tensor, not ${fmtTy(ty)}`,
          "compute a tensor here",
        );
      if (s.kind === "loss" && ty.k === "tensor" && ty.dims.length > 0)
        ctx.report(
          "M2107",
          s.value.span,
          `loss '${s.name.name}' must be a scalar, but is ${fmtTy(ty)}`,
          "reduce it with mean(...)",
        );
      define(ctx, scope, s.name, ty, "let");
      (s.kind === "loss" ? model?.losses : model?.outputs)?.push({ name: s.name.name, ty, span: s.span });
      return;
    }
    case "objective": {
      const ty = checkExpr(ctx, scope, s.value);
      if (ty.k === "tensor" && ty.dims.length > 0)
        ctx.report(
          "M2107",
          s.value.span,
          `the objective must be a scalar, but is ${fmtTy(ty)}`,
          "combine losses, e.g. objective = text + 0.5 * latent",
        );
      else if (ty.k !== "tensor" && ty.k !== "unknown")
        ctx.report(
          "M2103",
          s.value.span,
          `the objective must be a scalar tensor, not ${fmtTy(ty)}`,
          "e.g. objective = lm + 0.5 * aux",
        );
      if (model) model.objective = s.span;
      return;
    }
    case "generate":
      checkGenerate(ctx, scope, s, model);
      return;
    case "config":
    case "preset":
      return; // handled by the model checker before the body runs
  }
}

function checkGenerate(ctx: Ctx, scope: Scope, s: Extract<A.Stmt, { kind: "generate" }>, model?: ModelRecord): void {
  const input = model?.inputs.find((i) => i.name === s.input.name);
  const from = model?.outputs.find((o) => o.name === s.from.name);
  if (!input) ctx.unknownName("input", s.input.name, s.input.span, model?.inputs.map((i) => i.name) ?? []);
  if (!from) ctx.unknownName("output", s.from.name, s.from.span, model?.outputs.map((o) => o.name) ?? []);
  if (input?.ty.k === "tensor" && input.ty.dtype !== "i32" && input.ty.dtype !== "u32")
    ctx.report(
      "M2111",
      s.input.span,
      `generated input '${s.input.name}' must hold token ids (i32), not ${fmtTy(input.ty)}`,
      "declare it as i32[B, T]",
    );
  if (input?.ty.k === "tensor" && from?.ty.k === "tensor" && from.ty.dims.length !== input.ty.dims.length + 1)
    ctx.report(
      "M2107",
      s.from.span,
      `logits '${s.from.name}' are ${fmtTy(from.ty)} but must add one vocabulary axis to ${fmtTy(input.ty)}`,
      "generate reads the last axis as scores over tokens",
    );
  else if (
    input?.ty.k === "tensor" &&
    from?.ty.k === "tensor" &&
    input.ty.dims.some((d, i) => from.ty.k === "tensor" && !dimEq(d, from.ty.dims[i], ctx.known))
  )
    ctx.report(
      "M2106",
      s.from.span,
      `logits '${s.from.name}' are ${fmtTy(from.ty)} but must be one row of scores per position of ${fmtTy(input.ty)}`,
      `position i scores token i + 1; slice the logits to the input's positions`,
    );
  if (s.until) {
    const t = checkExpr(ctx, scope, s.until);
    if (t.k !== "int" && t.k !== "unknown")
      ctx.report(
        "M2103",
        s.until.span,
        `the stop token must be an integer, not ${fmtTy(t)}`,
        "use an int config value such as eos",
      );
  }
  if (model) model.generate = { input: s.input.name, from: s.from.name, span: s.span };
}
