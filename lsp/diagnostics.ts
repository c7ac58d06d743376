// diagnostics.ts: the checker's diagnostics as the protocol's — code, range, hint and the "called
// here" notes as related locations. One in an imported file is shown on the import that leads to it.
// A model that checks clean is also elaborated, whose errors (a size that is no whole number inside
// std/nn.mira) carry the notes.
import * as P from "vscode-languageserver/node";
import { elaborate } from "../compiler/lower.js";
import { type Diagnostic, hasErrors } from "../dsl/index.js";
import { importPath } from "../dsl/modules.js";
import { type Analysis, rangeIn, uriOf } from "./analysis.js";

/** Batch dims the editor has no value for are bound to this, as `mira compile --emit params` does. */
const EDITOR_BATCH = 2;

export function toLspDiagnostics(a: Analysis, ds: readonly Diagnostic[] = a.diagnostics): P.Diagnostic[] {
  return ds.map((d) => toLsp(a, d));
}

/** The elaborator's diagnostics for the document's model under its defaults, when it checks clean. */
export function elaborationDiagnostics(a: Analysis): Diagnostic[] {
  if (!a.checked.model || hasErrors(a.diagnostics)) return [];
  return elaborate(a.checked, { defaultBatch: EDITOR_BATCH }).diagnostics;
}

function toLsp(a: Analysis, d: Diagnostic): P.Diagnostic {
  const related: P.DiagnosticRelatedInformation[] = [];
  for (const n of d.notes ?? []) {
    const text = a.sources.get(n.span.file);
    if (text !== undefined)
      related.push({ location: { uri: uriOf(n.span.file), range: rangeIn(text, n.span) }, message: n.message });
  }
  let range = rangeIn(a.text, d.span);
  if (d.span.file !== a.file) {
    const elsewhere = a.sources.get(d.span.file);
    if (elsewhere !== undefined)
      related.unshift({
        location: { uri: uriOf(d.span.file), range: rangeIn(elsewhere, d.span) },
        message: "the problem is here",
      });
    // The innermost call in this document that led there, else the import that brought the file in.
    const call = d.notes?.find((n) => n.span.file === a.file);
    const imports = a.checked.programs[0]?.decls.filter((x) => x.kind === "import") ?? [];
    const imp = imports.find((x) => importPath(a.root, x) === d.span.file) ?? imports[0];
    range = rangeIn(a.text, call?.span ?? imp?.span ?? { start: 0, end: 0 });
  }
  return {
    range,
    severity: d.severity === "error" ? P.DiagnosticSeverity.Error : P.DiagnosticSeverity.Warning,
    code: d.code,
    source: "mira",
    message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
    ...(related.length ? { relatedInformation: related } : {}),
  };
}
