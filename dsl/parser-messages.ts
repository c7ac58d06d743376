// parser-messages.ts: how the parser words its errors — tokens as written, rules in plain words —
// so a syntax error reads "expected ')', found 'return'" and never names a grammar rule.
import { EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from "chevrotain";
import * as T from "./lexer.js";

/** How a token reads in a message: keywords and punctuation as written, others by kind. */
export function tokenText(t: TokenType): string {
  if (t === EOF) return "end of file";
  if (t === T.Identifier) return "a name";
  if (t === T.NumberLit) return "a number";
  const src = t.PATTERN;
  if (src instanceof RegExp) return `'${src.source.replace(/\\/g, "")}'`;
  return t.name;
}

const found = (tok: IToken | undefined): string =>
  !tok || tok.tokenType === EOF
    ? "end of file"
    : `'${tok.image.length > 20 ? tok.image.slice(0, 20) + "…" : tok.image}'`;

/** What a rule expects, in words, for "no viable alternative" messages. */
const RULE_WORDS: Record<string, string> = {
  decl: "a declaration (import, interface, module or model)",
  statement: "a statement (let, param, repeat, return, input, output, loss, … or `name = value`)",
  primary: "an expression",
  sliceItem: "an index or a slice",
  dimItem: "a dimension",
};

export const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${tokenText(expected)}, found ${found(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    `unexpected ${found(firstRedundant)}; expected a declaration (import, interface, module or model)`,
  buildNoViableAltMessage: ({ actual, ruleName }) =>
    `expected ${RULE_WORDS[ruleName] ?? "something else"}, found ${found(actual[0])}`,
  buildEarlyExitMessage: ({ actual, ruleName }) =>
    `expected ${RULE_WORDS[ruleName] ?? "at least one item"}, found ${found(actual[0])}`,
};
