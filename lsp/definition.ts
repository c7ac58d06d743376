// definition.ts: where a name under the cursor is declared — an import's file, a module or interface
// (in this file or under models/std), a config key, or a local binding of the enclosing declaration.
import type * as A from "../dsl/ast.js";
import { importPath } from "../dsl/modules.js";
import { type Analysis, type Word, contains, findDecl, hyperOfLabel, modelAt } from "./analysis.js";

/** The span declared, or a whole file (`{ file }`) for an import. */
export type Target = A.Span | { readonly file: string; readonly start?: undefined };

export function definitionOf(a: Analysis, offset: number, w: Word): Target | undefined {
  const program = a.checked.programs[0];
  const imp = program?.decls.find((d): d is A.ImportDecl => d.kind === "import" && contains(d.span, offset));
  if (imp) return { file: importPath(a.root, imp) };
  if (/^\s*:(?!:)/.test(a.text.slice(w.end))) {
    const label = hyperOfLabel(a, w);
    if (label) return label.hyper.name.span;
  }
  const enclosing = program?.decls.find((d) => d.kind !== "import" && contains(d.span, offset));
  const local =
    enclosing && enclosing.kind !== "import" && enclosing.kind !== "interface"
      ? localBinding(enclosing, w, offset)
      : undefined;
  if (local) return local;
  const model = modelAt(a, offset);
  const field = model?.body.stmts
    .flatMap((s) => (s.kind === "config" ? s.fields : []))
    .find((f) => f.name.name === w.name);
  if (field) return field.name.span;
  const decl = findDecl(a, w.name);
  if (decl) return decl.name.span;
  // Inputs an implementation takes from its interface (`v`, `a` of a Combiner).
  if (enclosing?.kind === "module" && enclosing.impl) {
    const iface = findDecl(a, enclosing.impl.iface.name);
    const input = iface?.kind === "interface" ? iface.inputs.find((i) => i.name.name === w.name) : undefined;
    if (input) return input.name.span;
  }
  return undefined;
}

/** The last binding of the name before the offset in the declaration's body (lets, params, inputs,
 *  `repeat … as`, scan indices and carries) or its header (hyperparameters and inputs). */
function localBinding(d: A.ModuleDecl | A.ModelDecl, w: Word, offset: number): A.Span | undefined {
  const found: A.Ident[] = [];
  const visitExpr = (e: A.Expr | undefined): void => {
    if (!e) return;
    switch (e.kind) {
      case "scan":
        found.push(e.index, ...e.carries.map((c) => c.name));
        visitBlock(e.body);
        return;
      case "call":
        visitExpr(e.callee);
        for (const x of e.args) visitExpr(x.value);
        return;
      case "binary":
        visitExpr(e.left);
        visitExpr(e.right);
        return;
      case "neg":
        visitExpr(e.operand);
        return;
      case "list":
        e.items.forEach(visitExpr);
        return;
      case "index":
        visitExpr(e.target);
        return;
      default:
        return;
    }
  };
  const visitBlock = (b: A.Block): void => {
    for (const s of b.stmts) {
      if (s.kind === "let" || s.kind === "param" || s.kind === "input" || s.kind === "output" || s.kind === "loss")
        found.push(s.name);
      if (s.kind === "repeat") {
        if (s.as) found.push(s.as);
        visitBlock(s.body);
      }
      if ("value" in s) visitExpr(s.value);
    }
  };
  if (d.kind === "module") found.push(...d.hypers.map((h) => h.name), ...(d.inputs ?? []).map((i) => i.name));
  visitBlock(d.body);
  const before = found.filter((i) => i.name === w.name && i.span.start <= offset);
  return before.at(-1)?.span;
}
