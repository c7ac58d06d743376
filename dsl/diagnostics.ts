// diagnostics.ts: errors and warnings as data, the table of stable codes, and the printer
// (`file:line:col error M2104 message`, the source line, a caret run, `hint: …`).
import * as path from "node:path";
import type { Span } from "./ast.js";

export type Code = `M${number}`;

export interface Diagnostic {
  readonly code: Code;
  readonly severity: "error" | "warning";
  readonly span: Span;
  readonly message: string;
  readonly hint?: string;
  /** Secondary locations, e.g. the calls that led into std/nn.mira where a size went wrong. */
  readonly notes?: readonly Note[];
}

export interface Note {
  readonly span: Span;
  readonly message: string;
}

/** Every code the front end emits, with one line each for docs/language.md; a test checks that each
 *  has a golden test, so a new code cannot ship untested. */
export const CODES = {
  M1001: "unexpected character",
  M1002: "syntax error",
  M1003: "nesting too deep",
  M1004: "number out of range",
  M1005: "too many diagnostics; the rest are suppressed",
  M2001: "unknown name",
  M2002: "name defined twice",
  M2003: "unknown type",
  M2004: "import not found",
  M2005: "import cycle",
  M2006: "statement not allowed here",
  M2101: "wrong number of arguments",
  M2102: "unknown or repeated named argument",
  M2103: "wrong kind of value",
  M2104: "matmul inner dimensions differ",
  M2105: "shapes do not broadcast",
  M2106: "dimension does not unify",
  M2107: "rank mismatch",
  M2108: "declared type differs from the value",
  M2109: "axis or index out of range",
  M2110: "element counts differ",
  M2111: "dtype mismatch",
  M2201: "interface output dimension not fixed",
  M2202: "implementation fixes an unknown dimension",
  M2203: "value does not implement the interface",
  M2204: "module missing a return",
  M2301: "unused parameter",
  M2302: "model is incomplete",
  M2303: "module instance never used",
  M3001: "unknown preset",
  M3002: "unknown config key",
  M3003: "bad override value",
  M3004: "batch dimension not bound",
  M3005: "dimension is not a positive integer",
  M3006: "operation rejected while elaborating",
  M3007: "cannot derive an incremental decoder",
  M3008: "cannot derive a streaming encoder",
} as const satisfies Record<Code, string>;

export type KnownCode = keyof typeof CODES;

const WARNINGS: ReadonlySet<KnownCode> = new Set(["M1005", "M2301", "M2303"]);
export const isWarningCode = (code: KnownCode): boolean => WARNINGS.has(code);

export function diag(code: KnownCode, span: Span, message: string, hint?: string): Diagnostic {
  return { code, severity: WARNINGS.has(code) ? "warning" : "error", span, message, hint };
}

export const hasErrors = (ds: readonly Diagnostic[]): boolean => ds.some((d) => d.severity === "error");

/** Line starts of a text, for offset → line/column. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

export interface Position {
  readonly line: number; // 1-based
  readonly col: number; // 1-based
}

export function positionOf(starts: readonly number[], offset: number): Position {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: Math.max(0, offset - starts[lo]) + 1 };
}

/** Sources by file name, for excerpts; a diagnostic whose file is missing prints without one. */
export type Sources = ReadonlyMap<string, string>;

export function locate(d: Diagnostic, sources: Sources): Position {
  const text = sources.get(d.span.file);
  return text === undefined ? { line: 1, col: 1 } : positionOf(lineStarts(text), Math.min(d.span.start, text.length));
}

/** The source line of a span with a caret run under it, or nothing when the file is not known. */
function excerpt(span: Span, sources: Sources): { pos: Position; lines: string[] } {
  const text = sources.get(span.file);
  if (text === undefined) return { pos: { line: 1, col: 1 }, lines: [] };
  const starts = lineStarts(text);
  const start = Math.min(Math.max(0, span.start), text.length);
  const p = positionOf(starts, start);
  const lineEnd = p.line < starts.length ? starts[p.line] - 1 : text.length;
  // Tabs and control characters would shift the caret; show them as spaces.
  const line = text.slice(starts[p.line - 1], lineEnd).replace(/[\t\r\x00-\x1f]/g, " ");
  const width = Math.max(1, Math.min(span.end, lineEnd) - start);
  const gutter = String(p.line);
  const pad = " ".repeat(gutter.length);
  return { pos: p, lines: [`  ${gutter} | ${line}`, `  ${pad} | ${" ".repeat(p.col - 1)}${"^".repeat(width)}`] };
}

/** Files under the working directory print relative to it (imports are resolved to absolute paths,
 *  `/home/…/models/std/nn.mira`, which is noise on a terminal); the data keeps the full path. */
export function shownFile(file: string): string {
  if (!path.isAbsolute(file)) return file;
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

export function formatDiagnostic(d: Diagnostic, sources: Sources): string {
  const main = excerpt(d.span, sources);
  const out = [
    `${shownFile(d.span.file)}:${main.pos.line}:${main.pos.col} ${d.severity} ${d.code} ${d.message}`,
    ...main.lines,
  ];
  for (const n of d.notes ?? []) {
    const x = excerpt(n.span, sources);
    out.push(
      `  note: ${shownFile(n.span.file)}:${x.pos.line}:${x.pos.col} ${n.message}`,
      ...x.lines.map((l) => `  ${l}`),
    );
  }
  if (d.hint) out.push(`  hint: ${d.hint}`);
  return out.join("\n");
}

export function formatDiagnostics(ds: readonly Diagnostic[], sources: Sources): string {
  return ds.map((d) => formatDiagnostic(d, sources)).join("\n");
}

/** Sorted by file and position, errors and warnings interleaved as they occur in the text. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) =>
    a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : a.span.start - b.span.start,
  );
}

/** Plain-data form for `--json`. */
export function diagnosticJson(d: Diagnostic, sources: Sources): Record<string, unknown> {
  const p = locate(d, sources);
  const notes = d.notes?.map((n) => ({
    file: n.span.file,
    ...locate({ ...d, span: n.span }, sources),
    start: n.span.start,
    end: n.span.end,
    message: n.message,
  }));
  return {
    code: d.code,
    severity: d.severity,
    file: d.span.file,
    line: p.line,
    col: p.col,
    start: d.span.start,
    end: d.span.end,
    message: d.message,
    hint: d.hint,
    ...(notes ? { notes } : {}),
  };
}

/** Closest candidate by edit distance, for "did you mean" hints; undefined when nothing is close. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(name.length / 3));
  return best !== undefined && bestScore <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
