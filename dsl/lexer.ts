// lexer.ts: the tokens of .mira, one createToken each, and the pre-parse nesting scan. Comments are
// kept in their own group so the formatter can put them back; the parser never sees them.
import { type IToken, Lexer, createToken, type TokenType } from "chevrotain";

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

const keyword = (word: string): TokenType =>
  createToken({ name: word[0].toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Identifier });

export const Import = keyword("import");
export const Interface = keyword("interface");
export const Module = keyword("module");
export const Implements = keyword("implements");
export const Model = keyword("model");
export const Config = keyword("config");
export const Preset = keyword("preset");
export const Input = keyword("input");
export const Output = keyword("output");
export const Loss = keyword("loss");
export const Objective = keyword("objective");
export const Generate = keyword("generate");
export const From = keyword("from");
export const Until = keyword("until");
export const Let = keyword("let");
export const Param = keyword("param");
export const Repeat = keyword("repeat");
export const As = keyword("as");
export const Scan = keyword("scan");
export const Over = keyword("over");
export const Carry = keyword("carry");
export const Yield = keyword("yield");
export const Return = keyword("return");

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const Comment = createToken({ name: "Comment", pattern: /\/\/[^\n\r]*/, group: "comments" });
// Digits then optional fraction and exponent; the visitor turns out-of-range values into M1004.
export const NumberLit = createToken({ name: "NumberLit", pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/ });

export const Arrow = createToken({ name: "Arrow", pattern: /->/ });
export const Ellipsis = createToken({ name: "Ellipsis", pattern: /\.\.\./ });
export const Dot = createToken({ name: "Dot", pattern: /\./ });
export const EqEq = createToken({ name: "EqEq", pattern: /==/ });
export const NotEq = createToken({ name: "NotEq", pattern: /!=/ });
export const LessEq = createToken({ name: "LessEq", pattern: /<=/ });
export const GreaterEq = createToken({ name: "GreaterEq", pattern: />=/ });
export const Less = createToken({ name: "Less", pattern: /</ });
export const Greater = createToken({ name: "Greater", pattern: />/ });
export const Equals = createToken({ name: "Equals", pattern: /=/ });
export const Plus = createToken({ name: "Plus", pattern: /\+/ });
export const Minus = createToken({ name: "Minus", pattern: /-/ });
export const Star = createToken({ name: "Star", pattern: /\*/ });
export const Slash = createToken({ name: "Slash", pattern: /\// });
export const Percent = createToken({ name: "Percent", pattern: /%/ });
export const At = createToken({ name: "At", pattern: /@/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /]/ });
export const LBrace = createToken({ name: "LBrace", pattern: /{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /}/ });

export const KEYWORDS = [
  Import,
  Interface,
  Module,
  Implements,
  Model,
  Config,
  Preset,
  Input,
  Output,
  Loss,
  Objective,
  Generate,
  From,
  Until,
  Let,
  Param,
  Repeat,
  As,
  Scan,
  Over,
  Carry,
  Yield,
  Return,
];

// Order matters: comments before Slash, multi-character operators before their prefixes,
// keywords before Identifier.
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  NumberLit,
  Arrow,
  Ellipsis,
  Dot,
  EqEq,
  NotEq,
  LessEq,
  GreaterEq,
  Less,
  Greater,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  At,
  Colon,
  Comma,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  ...KEYWORDS,
  Identifier,
];

export const miraLexer = new Lexer(allTokens, { positionTracking: "full", ensureOptimizations: false });

/** Brackets plus runs of prefix minus: what the recursive-descent parser recurses on. Real models stay
 *  under 20; the limit keeps the parser's stack use bounded whatever the input. */
export const MAX_NESTING = 100;

/** The first token at which nesting passes MAX_NESTING, or undefined. Runs before parsing so that
 *  10 000 nested parentheses become one diagnostic instead of a stack overflow. */
export function findExcessNesting(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  let minusRun = 0;
  for (const t of tokens) {
    const type = t.tokenType;
    if (type === LParen || type === LBracket || type === LBrace) depth++;
    else if (type === RParen || type === RBracket || type === RBrace) depth = Math.max(0, depth - 1);
    minusRun = type === Minus ? minusRun + 1 : 0;
    if (depth + minusRun > MAX_NESTING) return t;
  }
  return undefined;
}
