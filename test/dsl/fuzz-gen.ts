// fuzz-gen.ts: bad inputs for the front end, shared by test/dsl/fuzz.test.ts (a few thousand, seeded by
// fast-check) and bench/fuzz.ts (≥ 100 000). Each generator takes a random source, so both drivers
// reproduce a failure from its seed.
import * as fs from "node:fs";
import * as path from "node:path";
import type { IToken } from "chevrotain";
import { CODES, type Diagnostic, check, format } from "../../dsl/index.js";
import {
  Colon,
  Comma,
  Identifier,
  LBrace,
  LBracket,
  LParen,
  Minus,
  Preset,
  RBrace,
  RBracket,
  RParen,
  miraLexer,
} from "../../dsl/lexer.js";
import { prng } from "../helpers/prng.js";
import { REAL_MODELS } from "./harness.js";

export type Rand = () => number; // uniform in [0, 1)

export const MODELS = path.resolve(import.meta.dirname, "../../models");
export const REAL: readonly { name: string; text: string; tokens: IToken[] }[] = REAL_MODELS.map((f) => {
  const text = fs.readFileSync(path.join(MODELS, f), "utf8");
  return { name: f, text, tokens: miraLexer.tokenize(text).tokens };
});

/** Imports read from memory: the fuzzer measures the front end, not the disk. */
const files = new Map(REAL.map((r) => [path.join(MODELS, r.name), r.text]));
const read = (f: string) => files.get(f);

export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

export interface Mutant {
  readonly kind: string;
  readonly text: string;
  /** Lines (1-based) between which the mutation sits, for "points at the mutated line". */
  readonly lines?: readonly [number, number];
}

const lineOf = (text: string, offset: number) => text.slice(0, offset).split("\n").length;

export function randomBytes(r: Rand): Mutant {
  const n = int(r, 1, 300);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = int(r, 0, 255);
  // Invalid UTF-8 decodes to U+FFFD, as a file read with 'utf8' would.
  return { kind: "bytes", text: r() < 0.5 ? new TextDecoder("utf-8").decode(bytes) : String.fromCharCode(...bytes) };
}

/** mulberry32 (shared with the compiler tests), so a failing case is reproduced from its seed. */
export const seeded = (seed: number): Rand => prng(seed);

/** Random printable text biased towards .mira's own characters, which goes deeper into the parser. */
export function randomAscii(r: Rand): Mutant {
  const alphabet = "abcxyzBTd0129 \n\t()[]{}<>=+-*/%@:,.…_";
  const words = [
    "module",
    "model",
    "let",
    "param",
    "return",
    "scan",
    "over",
    "carry",
    "yield",
    "repeat",
    "as",
    "import",
    "interface",
    "implements",
    "config",
    "preset",
    "input",
    "output",
    "loss",
    "objective",
    "generate",
    "from",
    "until",
    "f32",
    "i32",
    "...",
    "->",
  ];
  let s = "";
  const n = int(r, 1, 120);
  for (let i = 0; i < n; i++) s += r() < 0.3 ? ` ${pick(r, words)} ` : pick(r, [...alphabet]);
  return { kind: "ascii", text: s };
}

function splice(text: string, tokens: readonly IToken[], i: number, replacement: string): string {
  const t = tokens[i];
  return text.slice(0, t.startOffset) + replacement + text.slice(t.startOffset + t.image.length);
}

/** Deletes, duplicates or swaps tokens of a real model; each mutant is invalid by construction
 *  (commas, minus signs, colons, callee names and the only dim of a type, which can leave a valid
 *  program, are left alone). */
export function tokenMutant(r: Rand): Mutant {
  const m = pick(r, REAL);
  const { text, tokens } = m;
  const op = pick(r, ["delete", "duplicate", "swap"]);
  for (let attempt = 0; attempt < 20; attempt++) {
    const i = int(r, 0, tokens.length - 1);
    const t = tokens[i];
    // `x[:T]` → `x[T]`, `::` are valid
    if (t.tokenType === Comma || t.tokenType === Minus || t.tokenType === Colon) continue;
    // `f(x)` → `(x)` is valid
    if (op === "delete" && t.tokenType === Identifier && tokens[i + 1]?.tokenType === LParen) continue;
    // `f32[n]` → `f32[]`, a scalar
    if (op === "delete" && tokens[i - 1]?.tokenType === LBracket && tokens[i + 1]?.tokenType === RBracket) continue;
    if (op === "delete" && tokens[i + 1]?.tokenType === Minus) continue; // `1.0 - x` → `- x`, a negation
    if (op === "delete" && tokens[i - 1]?.tokenType === Preset) continue; // `preset 3b` → `preset b`
    const prevLine = tokens[i - 1]?.startLine ?? 1;
    const nextLine = tokens[i + 1]?.startLine ?? lineOf(text, text.length);
    // A deleted '}' is reported at the '{' it closed (the block left open), so that line counts too.
    if (op === "delete")
      return {
        kind: "delete",
        text: splice(text, tokens, i, ""),
        lines: [Math.min(prevLine, openerLine(tokens, i) ?? prevLine), nextLine],
      };
    if (op === "duplicate")
      return {
        kind: "duplicate",
        text: splice(text, tokens, i, `${t.image} ${t.image}`),
        lines: [t.startLine ?? 1, t.startLine ?? 1],
      };
    const u = tokens[i + 1];
    if (!u || u.tokenType === t.tokenType || u.tokenType === Comma || u.tokenType === Minus) continue;
    // `preset 3b` → `preset b3`, another valid name
    if (tokens[i - 1]?.tokenType === Preset) continue;
    // `F()` → `(F)`, a bare implementation
    if (t.tokenType === Identifier && u.tokenType === LParen && tokens[i + 2]?.tokenType === RParen) continue;
    const swapped =
      text.slice(0, t.startOffset) +
      u.image +
      text.slice(t.startOffset + t.image.length, u.startOffset) +
      t.image +
      text.slice(u.startOffset + u.image.length);
    return { kind: "swap", text: swapped, lines: [t.startLine ?? 1, u.startLine ?? 1] };
  }
  return { kind: "delete-first", text: splice(text, tokens, 0, "") };
}

function openerLine(tokens: readonly IToken[], i: number): number | undefined {
  if (tokens[i].tokenType !== RBrace) return undefined;
  let depth = 0;
  for (let j = i; j >= 0; j--) {
    if (tokens[j].tokenType === RBrace) depth++;
    else if (tokens[j].tokenType === LBrace && --depth === 0) return tokens[j].startLine;
  }
  return undefined;
}

export function deepNesting(r: Rand): Mutant {
  // past the parser's 100-level limit: 90–100 levels (drawable before) is valid input, with no diagnostic to expect
  const n = pick(r, [101, 500, 10_000, int(r, 101, 20_000)]);
  const open = pick(r, ["(", "[", "{", "-", "f(", "x["]);
  const close = open === "(" || open === "f(" ? ")" : open === "[" || open === "x[" ? "]" : open === "{" ? "}" : "";
  const body = open.repeat(n) + "x" + close.repeat(n);
  const wrap = pick(r, [
    (b: string) => b,
    (b: string) => `module A()(x: f32[N]) -> f32[N] {\n  return ${b}\n}\n`,
    (b: string) => `model M {\n  let y = ${b}\n}\n`,
  ]);
  return { kind: `nest-${open}`, text: wrap(body) };
}

/** Long flat chains: no bracket nesting, but a deep AST if built naively. */
export function longChain(r: Rand): Mutant {
  const n = pick(r, [300, 2_000]);
  const unit = pick(r, ["x + ", "x @ ", "x * ", "-x - "]);
  const postfix = pick(r, ["", "[0]", "(1)"]);
  const expr = postfix ? "x" + postfix.repeat(n) : unit.repeat(n) + "x";
  return { kind: "chain", text: `module A()(x: f32[N]) -> f32[N] {\n  return ${expr}\n}\n` };
}

export function hugeNumbers(r: Rand): Mutant {
  const m = pick(r, REAL);
  // The digits of a preset name (`preset 3b`) make another valid name, so they are left alone.
  const numbers = m.tokens
    .map((t, i) => [t, i] as const)
    .filter(([t, i]) => /^\d/.test(t.image) && m.tokens[i - 1]?.tokenType !== Preset);
  const [t, i] = pick(r, numbers);
  const huge = pick(r, [
    "9".repeat(int(r, 17, 400)),
    "1e400",
    "1.5e-400",
    "1" + "0".repeat(309) + ".5",
    "12345678901234567890",
  ]);
  const isFloatZero = /e-400$/.test(huge);
  // 1.5e-400 underflows to 0, which is a valid value; put it where 0 is an error (a dim).
  const text = isFloatZero
    ? "module A()(x: f32[N]) -> f32[1.5e-400] {\n  return x\n}\n"
    : splice(m.text, m.tokens, i, huge);
  return { kind: "huge", text, lines: [t.startLine ?? 1, t.startLine ?? 1] };
}

export const GENERATORS = { randomBytes, randomAscii, tokenMutant, deepNesting, longChain, hugeNumbers };

export interface Outcome {
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
  readonly formatted?: string;
}

/** The front end on one input: parse, imports, check, and the formatter. */
export function runFrontEnd(text: string): Outcome {
  const r = check(text, "fuzz.mira", { root: MODELS, read });
  const f = format(text, "fuzz.mira");
  return { diagnostics: r.diagnostics, sources: r.sources, formatted: f.result };
}

/** What makes a diagnostic well-formed: a known code and a span inside a file the caller can show. */
export function problemsOf(o: Outcome): string[] {
  const out: string[] = [];
  for (const d of o.diagnostics) {
    if (!Object.hasOwn(CODES, d.code)) out.push(`unknown code ${d.code}`);
    const src = o.sources.get(d.span.file);
    if (src === undefined) out.push(`${d.code} in unknown file ${d.span.file}`);
    else if (!(0 <= d.span.start && d.span.start <= d.span.end && d.span.end <= src.length + 1))
      out.push(`${d.code} span ${d.span.start}..${d.span.end} outside ${src.length}`);
    if (!d.message || !d.hint) out.push(`${d.code} lacks a message or hint`);
  }
  return out;
}

export const isBlank = (text: string): boolean => /^\s*(\/\/[^\n]*\s*)*$/.test(text);
