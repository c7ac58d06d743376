// symbols.ts: the outline of a document — modules with their hyperparameters, interfaces, and each
// model with its config keys, presets, inputs, outputs and losses.
import * as P from "vscode-languageserver/node";
import type * as A from "../dsl/ast.js";
import { type Analysis, rangeIn } from "./analysis.js";

export function documentSymbols(a: Analysis): P.DocumentSymbol[] {
  const program = a.checked.programs[0];
  if (!program) return [];
  const sym = (
    name: string,
    kind: P.SymbolKind,
    span: A.Span,
    nameSpan: A.Span,
    children: P.DocumentSymbol[] = [],
  ): P.DocumentSymbol => {
    const range = rangeIn(a.text, span);
    // The selection must lie inside the range, which a recovered parse does not always guarantee.
    const inside = nameSpan.start >= span.start && nameSpan.end <= span.end;
    return { name: name || "?", kind, range, selectionRange: inside ? rangeIn(a.text, nameSpan) : range, children };
  };
  const out: P.DocumentSymbol[] = [];
  for (const d of program.decls) {
    if (d.kind === "import") continue;
    if (d.kind === "interface") out.push(sym(d.name.name, P.SymbolKind.Interface, d.span, d.name.span));
    else if (d.kind === "module")
      out.push(
        sym(
          d.name.name,
          P.SymbolKind.Class,
          d.span,
          d.name.span,
          d.hypers.map((h) => sym(h.name.name, P.SymbolKind.TypeParameter, h.span, h.name.span)),
        ),
      );
    else {
      const children: P.DocumentSymbol[] = [];
      for (const s of d.body.stmts) {
        if (s.kind === "config")
          children.push(...s.fields.map((f) => sym(f.name.name, P.SymbolKind.Property, f.span, f.name.span)));
        else if (s.kind === "preset")
          children.push(sym(`preset ${s.name.name}`, P.SymbolKind.Namespace, s.span, s.name.span));
        else if (s.kind === "input") children.push(sym(s.name.name, P.SymbolKind.Variable, s.span, s.name.span));
        else if (s.kind === "output") children.push(sym(s.name.name, P.SymbolKind.Field, s.span, s.name.span));
        else if (s.kind === "loss") children.push(sym(s.name.name, P.SymbolKind.Event, s.span, s.name.span));
      }
      out.push(sym(d.name.name, P.SymbolKind.Module, d.span, d.name.span, children));
    }
  }
  return out;
}
