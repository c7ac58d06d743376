// parser.ts: the grammar of .mira as a Chevrotain CstParser with error recovery: declarations and
// statements here, expressions in parser-exprs.ts, error wording in parser-messages.ts. Rules are typed
// class properties, so a misspelt subrule is a compile error. The CST goes to cst-to-ast.ts.
// Statements need no separators: every statement starts with a keyword or `name =`, and no
// expression can continue with an identifier, so newlines carry no meaning.
import * as T from "./lexer.js";
import { ExpressionParser } from "./parser-exprs.js";

export class MiraParser extends ExpressionParser {
  constructor() {
    super();
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

  private modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.block);
  });

  protected block = this.RULE("block", () => {
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
}

/** One parser for the process: Chevrotain's self-analysis is the expensive part. */
export const miraParser = new MiraParser();
