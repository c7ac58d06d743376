// parse.ts: source text → AST plus diagnostics. Lexing, the nesting pre-scan, Chevrotain parsing
// with recovery and the CST→AST visitor, in that order; nothing here throws on any input.
import { EOF, type IRecognitionException, type IToken } from "chevrotain";
import type { Program, Span } from "./ast.js";
import { AstBuilder } from "./cst-to-ast.js";
import { type Diagnostic, diag } from "./diagnostics.js";
import { LBrace, MAX_NESTING, RBrace, findExcessNesting, miraLexer } from "./lexer.js";
import { miraParser } from "./parser.js";
import type * as A from "./ast.js";

/** Past this many diagnostics a file is more noise than signal; one M1005 says the rest were cut. */
export const MAX_DIAGNOSTICS = 100;

export interface Comment {
  readonly text: string;
  readonly span: Span;
}

export interface Parsed<T> {
  readonly result: T;
  readonly diagnostics: Diagnostic[];
  readonly comments: Comment[];
}

interface Lexed {
  readonly tokens: IToken[];
  readonly comments: Comment[];
  readonly diagnostics: Diagnostic[];
}

function lex(source: string, file: string): Lexed {
  const r = miraLexer.tokenize(source);
  const diagnostics: Diagnostic[] = [];
  // Adjacent bad characters form one error, not one per byte.
  let last: { start: number; end: number } | undefined;
  for (const e of r.errors) {
    if (last && e.offset <= last.end) {
      last.end = Math.max(last.end, e.offset + e.length);
      continue;
    }
    last = { start: e.offset, end: e.offset + e.length };
    const ch = source.slice(e.offset, e.offset + 1);
    const code = ch.codePointAt(0) ?? 0;
    const shown = code >= 32 && code < 127 ? `'${ch}'` : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
    diagnostics.push(
      diag(
        "M1001",
        { file, start: e.offset, end: e.offset + Math.max(1, e.length) },
        `unexpected character ${shown}`,
        ch === "'" || ch === '"'
          ? "mira has no strings; names and numbers only"
          : "remove it; names are ASCII letters, digits and _",
      ),
    );
  }
  const comments = ((r.groups.comments ?? []) as IToken[]).map((t) => ({
    text: t.image.trimEnd(),
    span: { file, start: t.startOffset, end: t.startOffset + t.image.length },
  }));
  return { tokens: r.tokens, comments, diagnostics };
}

function syntaxDiagnostic(e: IRecognitionException, file: string, sourceLength: number): Diagnostic {
  const tok = e.token;
  const prev = (e as { previousToken?: IToken }).previousToken;
  const atEof = !tok || tok.tokenType === EOF || !Number.isFinite(tok.startOffset);
  const statementLevel = e.context?.ruleStack?.at(-1) === "statement" || e.context?.ruleStack?.at(-1) === "decl";
  const prevOk = prev && Number.isFinite(prev.startOffset) && prev.tokenType !== EOF;
  // A missing token is best shown right after the last good one when the next token is on a later
  // line (the usual "forgot a ')' at the end of the line"); a wrong token is shown where it stands.
  const useEndOfPrev = prevOk && (atEof || (!statementLevel && (tok.startLine ?? 0) > (prev.endLine ?? 0)));
  let span: Span;
  if (useEndOfPrev) {
    const end = (prev.endOffset ?? prev.startOffset) + 1;
    span = { file, start: end, end: end + 1 };
  } else if (!atEof) span = { file, start: tok.startOffset, end: tok.startOffset + Math.max(1, tok.image.length) };
  else span = { file, start: sourceLength, end: sourceLength };
  const hint =
    e.name === "NotAllInputParsedException"
      ? "statements belong inside a module or model block"
      : "check the syntax near here against docs/language.md";
  return diag("M1002", span, e.message, hint);
}

function capped(ds: Diagnostic[]): Diagnostic[] {
  if (ds.length <= MAX_DIAGNOSTICS) return ds;
  const kept = ds.slice(0, MAX_DIAGNOSTICS);
  kept.push(
    diag(
      "M1005",
      ds[MAX_DIAGNOSTICS].span,
      `${ds.length - MAX_DIAGNOSTICS} more diagnostics not shown`,
      "fix the first errors and run again",
    ),
  );
  return kept;
}

const indentOf = (source: string, offset: number): number => {
  const lineStart = source.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(source.slice(lineStart, offset + 1))?.[0].length ?? 0;
};

/** After a syntax error, the brace most likely at fault. A `}` that closes a block opened on an
 *  earlier line should stand where that block's line starts: further left, the block was left open
 *  (point at its `{`); further right, this `}` is one too many (point at it). Error recovery alone
 *  reports a missing `}` where the file ends, which is rarely where it is missing. */
function braceDiagnostic(tokens: readonly IToken[], source: string, file: string): Diagnostic | undefined {
  const stack: IToken[] = [];
  const at = (t: IToken): Span => ({ file, start: t.startOffset, end: t.startOffset + 1 });
  for (const t of tokens) {
    if (t.tokenType === LBrace) stack.push(t);
    else if (t.tokenType === RBrace) {
      const open = stack.pop();
      if (!open) return diag("M1002", at(t), "this '}' closes nothing", "remove it, or add the '{' it should close");
      if (open.startLine === t.startLine) continue;
      const col = t.startOffset - (source.lastIndexOf("\n", t.startOffset - 1) + 1);
      const want = indentOf(source, open.startOffset);
      if (col < want)
        return diag(
          "M1002",
          at(open),
          `this '{' may be unclosed: the '}' on line ${t.startLine} that closes it stands left of its block`,
          "add the missing '}' for this block",
        );
      if (col > want)
        return diag(
          "M1002",
          at(t),
          `this '}' closes the block opened on line ${open.startLine}; is it one too many?`,
          "remove it, or check the braces above",
        );
    }
  }
  const open = stack.pop();
  return open && diag("M1002", at(open), "this '{' is never closed", "add a '}' where the block ends");
}

const emptyProgram = (file: string, length: number): Program => ({
  file,
  span: { file, start: 0, end: length },
  decls: [],
});

/** The last file parsed: `mira check` then `mira fmt` of one text (or a fuzzer's check and format of
 *  each mutant) parse it once. The AST is plain data that nobody mutates; the array is copied. */
let last: { source: string; file: string; parsed: Parsed<Program> } | undefined;

/** Parses a whole file. */
export function parse(source: string, file = "<input>"): Parsed<Program> {
  if (last?.source !== source || last.file !== file) last = { source, file, parsed: parseFresh(source, file) };
  return { ...last.parsed, diagnostics: [...last.parsed.diagnostics] };
}

function parseFresh(source: string, file: string): Parsed<Program> {
  const lexed = lex(source, file);
  const deep = findExcessNesting(lexed.tokens);
  if (deep) {
    const d = diag(
      "M1003",
      { file, start: deep.startOffset, end: deep.startOffset + deep.image.length },
      `nesting deeper than ${MAX_NESTING} levels`,
      "split the expression with `let` bindings",
    );
    return {
      result: emptyProgram(file, source.length),
      diagnostics: capped([...lexed.diagnostics, d]),
      comments: lexed.comments,
    };
  }
  miraParser.input = lexed.tokens;
  const cst = miraParser.program();
  const syntax = miraParser.errors.map((e) => syntaxDiagnostic(e, file, source.length));
  const brace = syntax.length > 0 ? braceDiagnostic(lexed.tokens, source, file) : undefined;
  if (brace) syntax.push(brace);
  const builder = new AstBuilder(file, source.length);
  const program = builder.program(cst);
  return {
    result: program,
    diagnostics: capped([...lexed.diagnostics, ...syntax, ...builder.diagnostics]),
    comments: lexed.comments,
  };
}

/** Parses one expression, e.g. the value of `--set combiner='TTM(memory: 32)'`. */
export function parseExpression(source: string, file = "<override>"): Parsed<A.Expr> {
  const lexed = lex(source, file);
  const whole: Span = { file, start: 0, end: source.length };
  const deep = findExcessNesting(lexed.tokens);
  if (deep)
    return {
      result: { kind: "error", span: whole },
      diagnostics: [
        ...lexed.diagnostics,
        diag("M1003", whole, `nesting deeper than ${MAX_NESTING} levels`, "simplify the value"),
      ],
      comments: [],
    };
  miraParser.input = lexed.tokens;
  const cst = miraParser.expression();
  const syntax = miraParser.errors.map((e) => syntaxDiagnostic(e, file, source.length));
  const builder = new AstBuilder(file, source.length);
  const expr = builder.exprOrError(cst, whole);
  const consumed = expr.span.end;
  const rest = lexed.tokens.find((t) => t.startOffset >= consumed);
  const trailing = rest
    ? [
        diag(
          "M1002",
          { file, start: rest.startOffset, end: rest.startOffset + rest.image.length },
          `unexpected '${rest.image}' after the value`,
          "give one value, e.g. TTMCombiner(memory: 32)",
        ),
      ]
    : [];
  return {
    result: expr,
    diagnostics: [...lexed.diagnostics, ...syntax, ...trailing, ...builder.diagnostics],
    comments: [],
  };
}
