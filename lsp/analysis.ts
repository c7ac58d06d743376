// analysis.ts: one checked document for the editor — the checker's result with every expression's
// type kept, plus the lookups hover, definition and completion share. Knows nothing of the protocol.
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type * as A from "../dsl/ast.js";
import { type Checked, type Diagnostic, type ReadFile, check } from "../dsl/index.js";
import { lineStarts, positionOf } from "../dsl/diagnostics.js";
import { modelsRoot } from "../dsl/modules.js";
import type { Ty } from "../dsl/types.js";

export interface Analysis {
  readonly file: string;
  readonly text: string;
  readonly checked: Checked;
  readonly diagnostics: readonly Diagnostic[];
  /** Every text a span may point into: the document, its imports, override pseudo-files. */
  readonly sources: ReadonlyMap<string, string>;
  readonly root: string;
}

/** A `file:` URI names a path on disk; anything else (`untitled:`) is used as the file name as is. */
export const fileOf = (uri: string): string => (uri.startsWith("file:") ? fileURLToPath(uri) : uri);
export const uriOf = (file: string): string => (path.isAbsolute(file) ? pathToFileURL(file).href : file);

export function analyse(file: string, text: string, read: ReadFile): Analysis {
  const r = check(text, file, { read, recordTypes: true });
  return { file, text, checked: r.result, diagnostics: r.diagnostics, sources: r.sources, root: modelsRoot(file) };
}

/** 0-based line and UTF-16 character of an offset, as the protocol counts (so do JS strings). */
export function positionIn(text: string, offset: number): { line: number; character: number } {
  const p = positionOf(lineStarts(text), Math.max(0, Math.min(offset, text.length)));
  return { line: p.line - 1, character: p.col - 1 };
}

export function rangeIn(text: string, span: { start: number; end: number }) {
  return { start: positionIn(text, span.start), end: positionIn(text, Math.max(span.start, span.end)) };
}

export function offsetIn(text: string, pos: { line: number; character: number }): number {
  const starts = lineStarts(text);
  if (pos.line >= starts.length) return text.length;
  const lineEnd = pos.line + 1 < starts.length ? starts[pos.line + 1] - 1 : text.length;
  return Math.min(starts[Math.max(0, pos.line)] + Math.max(0, pos.character), lineEnd);
}

export interface Word {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** The identifier under (or just before) an offset. */
export function wordAt(text: string, offset: number): Word | undefined {
  const isId = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);
  let start = offset;
  while (start > 0 && isId(text[start - 1])) start--;
  let end = offset;
  while (end < text.length && isId(text[end])) end++;
  const name = text.slice(start, end);
  return /^[A-Za-z_]\w*$/.test(name) ? { name, start, end } : undefined;
}

export const contains = (s: A.Span, offset: number): boolean => s.start <= offset && offset <= s.end;

/** Declarations of the document and its imports, by name; the document's own come first. */
export function findDecl(a: Analysis, name: string): Exclude<A.Decl, A.ImportDecl> | undefined {
  for (const p of a.checked.programs)
    for (const d of p.decls) if (d.kind !== "import" && d.name.name === name) return d;
  return undefined;
}

export function interfaces(a: Analysis): A.InterfaceDecl[] {
  return a.checked.programs.flatMap((p) => p.decls.filter((d): d is A.InterfaceDecl => d.kind === "interface"));
}

/** The model declaration of the document that holds an offset. */
export function modelAt(a: Analysis, offset: number): A.ModelDecl | undefined {
  return a.checked.programs[0]?.decls.find((d): d is A.ModelDecl => d.kind === "model" && contains(d.span, offset));
}

/** The checked type at a word: the expression or binding spelt exactly there, else the smallest
 *  checked span of the document around it (with `startsAt`, only one that starts at the word). */
export function typeAt(a: Analysis, w: Word, startsAt = false): Ty | undefined {
  let best: { span: A.Span; ty: Ty } | undefined;
  for (const [span, ty] of a.checked.types ?? []) {
    if (span.file !== a.file || span.start > w.start || span.end < w.end || (startsAt && span.start !== w.start))
      continue;
    if (span.start === w.start && span.end === w.end) return ty;
    if (!best || span.end - span.start < best.span.end - best.span.start) best = { span, ty };
  }
  return best?.ty;
}

/** A declaration's header as written: a module up to its body, an interface whole. */
export function headerText(a: Analysis, d: Exclude<A.Decl, A.ImportDecl>): string {
  const text = a.sources.get(d.span.file) ?? "";
  const end = d.kind === "interface" ? d.span.end : d.body.span.start;
  return text.slice(d.span.start, end).replace(/\s+/g, " ").trim();
}

/** For a label `name:` inside `Callee(…` (a named argument, or a hyperparameter in a module's header),
 *  the hyperparameter it names, with the module; undefined elsewhere. */
export function hyperOfLabel(a: Analysis, w: Word): { module: A.ModuleDecl; hyper: A.ParamSig } | undefined {
  let depth = 0;
  for (let i = w.start - 1; i >= 0; i--) {
    const c = a.text[i];
    if (c === ")" || c === "]") depth++;
    else if (c === "[" && depth-- === 0) return undefined;
    else if (c === "{" || c === "}") return undefined;
    else if (c === "(" && depth-- === 0) {
      const callee = /([A-Za-z_]\w*)\s*$/.exec(a.text.slice(Math.max(0, i - 200), i))?.[1];
      const d = callee === undefined ? undefined : findDecl(a, callee);
      const hyper = d?.kind === "module" ? d.hypers.find((h) => h.name.name === w.name) : undefined;
      return d?.kind === "module" && hyper ? { module: d, hyper } : undefined;
    }
  }
  return undefined;
}
