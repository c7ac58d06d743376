// parser.ts: the grammar of .mira as a Chevrotain CstParser with error recovery. Rules are typed
// class properties, so a misspelt subrule is a compile error. The CST goes to cst-to-ast.ts.
// Statements need no separators: every statement starts with a keyword or `name =`, and no
// expression can continue with an identifier, so newlines carry no meaning.
import { CstParser, EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from "chevrotain";
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
  !tok || tok.tokenType === EOF ? "end of file" : `'${tok.image.length > 20 ? tok.image.slice(0, 20) + "…" : tok.image}'`;

/** What a rule expects, in words, for "no viable alternative" messages. */
const RULE_WORDS: Record<string, string> = {
  decl: "a declaration (import, interface, module or model)",
  statement: "a statement (let, param, repeat, return, input, output, loss, … or `name = value`)",
  primary: "an expression",
  sliceItem: "an index or a slice",
  dimItem: "a dimension",
};

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${tokenText(expected)}, found ${found(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `unexpected ${found(firstRedundant)}; expected a declaration (import, interface, module or model)`,
  buildNoViableAltMessage: ({ actual, ruleName }) => `expected ${RULE_WORDS[ruleName] ?? "something else"}, found ${found(actual[0])}`,
  buildEarlyExitMessage: ({ actual, ruleName }) => `expected ${RULE_WORDS[ruleName] ?? "at least one item"}, found ${found(actual[0])}`,
};

export class MiraParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, errorMessageProvider: messages, maxLookahead: 3, nodeLocationTracking: "onlyOffset" });
    this.performSelfAnalysis();
  }

  program = this.RULE("program", () => {
    this.MANY(() => this.SUBRULE(this.decl));
  });

  private decl = this.RULE("decl", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.importDecl) },
      { ALT: () => this.SUBRULE(this.interfaceDecl) },
      { ALT: () => this.SUBRULE(this.moduleDecl) },
      { ALT: () => this.SUBRULE(this.modelDecl) },
    ]);
  });

  private importDecl = this.RULE("importDecl", () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier);
    });
  });

  private interfaceDecl = this.RULE("interfaceDecl", () => {
    this.CONSUME(T.Interface);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.paramList);
    this.CONSUME(T.Arrow);
    this.SUBRULE(this.typeExpr);
  });

  private moduleDecl = this.RULE("moduleDecl", () => {
    this.CONSUME(T.Module);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.paramList, { LABEL: "hypers" });
    this.OR([
      { ALT: () => this.SUBRULE(this.implementsClause) },
      {
        ALT: () => {
          this.SUBRULE2(this.paramList, { LABEL: "inputs" });
          this.CONSUME(T.Arrow);
          this.SUBRULE(this.typeExpr);
        },
      },
    ]);
    this.SUBRULE(this.block);
  });

  private implementsClause = this.RULE("implementsClause", () => {
    this.CONSUME(T.Implements);
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.setting) });
      this.CONSUME(T.RParen);
    });
  });

  private paramList = this.RULE("paramList", () => {
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.paramSig) });
    this.CONSUME(T.RParen);
  });

  private paramSig = this.RULE("paramSig", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.typeExpr);
    });
    this.OPTION2(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  private setting = this.RULE("setting", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private typeExpr = this.RULE("typeExpr", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.dimItem) });
      this.CONSUME(T.RBracket);
    });
  });

  private dimItem = this.RULE("dimItem", () => {
    this.OR([{ ALT: () => this.CONSUME(T.Ellipsis) }, { ALT: () => this.SUBRULE(this.expression) }]);
  });

  private modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.block);
  });

  private block = this.RULE("block", () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.statement));
    this.CONSUME(T.RBrace);
  });

  private statement = this.RULE("statement", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letStmt) },
      { ALT: () => this.SUBRULE(this.paramStmt) },
      { ALT: () => this.SUBRULE(this.repeatStmt) },
      { ALT: () => this.SUBRULE(this.returnStmt) },
      { ALT: () => this.SUBRULE(this.yieldStmt) },
      { ALT: () => this.SUBRULE(this.inputStmt) },
      { ALT: () => this.SUBRULE(this.outputStmt) },
      { ALT: () => this.SUBRULE(this.lossStmt) },
      { ALT: () => this.SUBRULE(this.objectiveStmt) },
      { ALT: () => this.SUBRULE(this.generateStmt) },
      { ALT: () => this.SUBRULE(this.configStmt) },
      { ALT: () => this.SUBRULE(this.presetStmt) },
      { ALT: () => this.SUBRULE(this.assignStmt) },
    ]);
  });

  private letStmt = this.RULE("letStmt", () => {
    this.CONSUME(T.Let);
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.typeExpr);
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private paramStmt = this.RULE("paramStmt", () => {
    this.CONSUME(T.Param);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeExpr);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  private repeatStmt = this.RULE("repeatStmt", () => {
    this.CONSUME(T.Repeat);
    this.SUBRULE(this.expression);
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME(T.Identifier);
    });
    this.SUBRULE(this.block);
  });

  private returnStmt = this.RULE("returnStmt", () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression);
  });

  private yieldStmt = this.RULE("yieldStmt", () => {
    this.CONSUME(T.Yield);
    this.SUBRULE(this.expression);
  });

  private inputStmt = this.RULE("inputStmt", () => {
    this.CONSUME(T.Input);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeExpr);
  });

  private outputStmt = this.RULE("outputStmt", () => {
    this.CONSUME(T.Output);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private lossStmt = this.RULE("lossStmt", () => {
    this.CONSUME(T.Loss);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private objectiveStmt = this.RULE("objectiveStmt", () => {
    this.CONSUME(T.Objective);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private generateStmt = this.RULE("generateStmt", () => {
    this.CONSUME(T.Generate);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.From);
    this.CONSUME2(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Until);
      this.SUBRULE(this.expression);
    });
  });

  private configStmt = this.RULE("configStmt", () => {
    this.CONSUME(T.Config);
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.paramSig);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
  });

  private presetStmt = this.RULE("presetStmt", () => {
    this.CONSUME(T.Preset);
    // `preset 3b`: a name may start with digits, which lex as a number then a name.
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier) },
      {
        ALT: () => {
          this.CONSUME(T.NumberLit);
          this.OPTION2(() => this.CONSUME2(T.Identifier));
        },
      },
    ]);
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.setting);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
  });

  private assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  expression = this.RULE("expression", () => {
    this.SUBRULE(this.additive);
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.EqEq, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.NotEq, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.LessEq, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.GreaterEq, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.Less, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.Greater, { LABEL: "op" }) },
      ]);
      this.SUBRULE2(this.additive);
    });
  });

  private additive = this.RULE("additive", () => {
    this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus, { LABEL: "op" }) }, { ALT: () => this.CONSUME(T.Minus, { LABEL: "op" }) }]);
      this.SUBRULE2(this.multiplicative);
    });
  });

  private multiplicative = this.RULE("multiplicative", () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.Percent, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(T.At, { LABEL: "op" }) },
      ]);
      this.SUBRULE2(this.unary);
    });
  });

  // Prefix minus is a loop, not recursion, so a run of minus signs costs no parser stack.
  private unary = this.RULE("unary", () => {
    this.MANY(() => this.CONSUME(T.Minus));
    this.SUBRULE(this.postfix);
  });

  private postfix = this.RULE("postfix", () => {
    this.SUBRULE(this.primary);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.callSuffix) }, { ALT: () => this.SUBRULE(this.indexSuffix) }]);
    });
  });

  private primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.CONSUME(T.Identifier) },
      { ALT: () => this.SUBRULE(this.parenExpr) },
      { ALT: () => this.SUBRULE(this.listExpr) },
      { ALT: () => this.SUBRULE(this.scanExpr) },
    ]);
  });

  private parenExpr = this.RULE("parenExpr", () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });

  private listExpr = this.RULE("listExpr", () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression) });
    this.CONSUME(T.RBracket);
  });

  private callSuffix = this.RULE("callSuffix", () => {
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.arg) });
    this.CONSUME(T.RParen);
  });

  private arg = this.RULE("arg", () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Colon,
      DEF: () => {
        this.CONSUME(T.Identifier);
        this.CONSUME(T.Colon);
      },
    });
    this.SUBRULE(this.expression);
  });

  private indexSuffix = this.RULE("indexSuffix", () => {
    this.CONSUME(T.LBracket);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.sliceItem) });
    this.CONSUME(T.RBracket);
  });

  // `i`, `a:b`, `a:b:s`, `:`, `::s`, `...`; which bounds are present is read from the labels.
  private sliceItem = this.RULE("sliceItem", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Ellipsis) },
      { ALT: () => this.SUBRULE(this.sliceTail) },
      {
        ALT: () => {
          this.SUBRULE(this.expression, { LABEL: "start" });
          this.OPTION(() => this.SUBRULE2(this.sliceTail));
        },
      },
    ]);
  });

  private sliceTail = this.RULE("sliceTail", () => {
    this.CONSUME(T.Colon);
    this.OPTION(() => this.SUBRULE(this.expression, { LABEL: "end" }));
    this.OPTION2(() => {
      this.CONSUME2(T.Colon, { LABEL: "stepColon" });
      this.OPTION3(() => this.SUBRULE2(this.expression, { LABEL: "step" }));
    });
  });

  private scanExpr = this.RULE("scanExpr", () => {
    this.CONSUME(T.Scan);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Over);
    this.SUBRULE(this.expression);
    this.OPTION(() => {
      this.CONSUME(T.Carry);
      this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.carryDecl) });
    });
    this.SUBRULE(this.block);
  });

  private carryDecl = this.RULE("carryDecl", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.typeExpr);
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });
}

/** One parser for the process: Chevrotain's self-analysis is the expensive part. */
export const miraParser = new MiraParser();
