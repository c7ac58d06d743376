// ast.ts: the syntax tree of a .mira file. Every node carries the span of source it came from, so
// the checker and the elaborator can point at it. Nodes are plain data: no methods, no parents.

/** A half-open range of character offsets in one file. */
export interface Span {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

export interface Ident {
  readonly name: string;
  readonly span: Span;
}

export type BinaryOp = "+" | "-" | "*" | "/" | "%" | "@" | "==" | "!=" | "<" | "<=" | ">" | ">=";

export interface NumberExpr {
  readonly kind: "number";
  readonly span: Span;
  readonly text: string; // as written, so the formatter keeps 1e-5 as 1e-5
  readonly value: number;
  readonly isInt: boolean;
}
export interface NameExpr {
  readonly kind: "name";
  readonly span: Span;
  readonly name: string;
}
export interface UnaryExpr {
  readonly kind: "neg";
  readonly span: Span;
  readonly operand: Expr;
}
export interface BinaryExpr {
  readonly kind: "binary";
  readonly span: Span;
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
}
export interface Arg {
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}
export interface CallExpr {
  readonly kind: "call";
  readonly span: Span;
  readonly callee: Expr;
  readonly args: readonly Arg[];
}
export type SliceItem =
  | { readonly kind: "at"; readonly span: Span; readonly index: Expr }
  | { readonly kind: "range"; readonly span: Span; readonly start?: Expr; readonly end?: Expr; readonly step?: Expr }
  | { readonly kind: "ellipsis"; readonly span: Span };
export interface IndexExpr {
  readonly kind: "index";
  readonly span: Span;
  readonly target: Expr;
  readonly items: readonly SliceItem[];
}
export interface ListExpr {
  readonly kind: "list";
  readonly span: Span;
  readonly items: readonly Expr[];
}
export interface Carry {
  readonly name: Ident;
  readonly type?: TypeExpr;
  readonly init: Expr;
  readonly span: Span;
}
/** `scan t over T carry mem: f32[B, k, d] = zeros { ...; yield o }`: yields stacked on axis 1. */
export interface ScanExpr {
  readonly kind: "scan";
  readonly span: Span;
  readonly index: Ident;
  readonly over: Expr;
  readonly carries: readonly Carry[];
  readonly body: Block;
}
/** Stands where the parser recovered from an error; its diagnostic was already reported. */
export interface ErrorExpr {
  readonly kind: "error";
  readonly span: Span;
}
export type Expr =
  | NumberExpr
  | NameExpr
  | UnaryExpr
  | BinaryExpr
  | CallExpr
  | IndexExpr
  | ListExpr
  | ScanExpr
  | ErrorExpr;

/** `f32[B, T * m, d]`, `int`, `Combiner`; a dim is an expression or `...` (any leading dims). */
export type DimItem = Expr | { readonly kind: "rest"; readonly span: Span };
export interface TypeExpr {
  readonly span: Span;
  readonly name: Ident;
  readonly dims?: readonly DimItem[];
}

export interface ParamSig {
  readonly name: Ident;
  readonly type?: TypeExpr;
  readonly default?: Expr;
  readonly span: Span;
}

export interface Block {
  readonly span: Span;
  readonly stmts: readonly Stmt[];
}

export type Stmt =
  | { readonly kind: "let"; readonly span: Span; readonly name: Ident; readonly type?: TypeExpr; readonly value: Expr }
  | { readonly kind: "assign"; readonly span: Span; readonly name: Ident; readonly value: Expr }
  | { readonly kind: "param"; readonly span: Span; readonly name: Ident; readonly type: TypeExpr; readonly init?: Expr }
  | { readonly kind: "repeat"; readonly span: Span; readonly count: Expr; readonly as?: Ident; readonly body: Block }
  | { readonly kind: "return"; readonly span: Span; readonly value: Expr }
  | { readonly kind: "yield"; readonly span: Span; readonly value: Expr }
  | { readonly kind: "input"; readonly span: Span; readonly name: Ident; readonly type: TypeExpr }
  | { readonly kind: "output"; readonly span: Span; readonly name: Ident; readonly value: Expr }
  | { readonly kind: "loss"; readonly span: Span; readonly name: Ident; readonly value: Expr }
  | { readonly kind: "objective"; readonly span: Span; readonly value: Expr }
  | {
      readonly kind: "generate";
      readonly span: Span;
      readonly input: Ident;
      readonly from: Ident;
      readonly until?: Expr;
    }
  | { readonly kind: "config"; readonly span: Span; readonly fields: readonly ParamSig[] }
  | { readonly kind: "preset"; readonly span: Span; readonly name: Ident; readonly entries: readonly Setting[] };

export interface Setting {
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface ImportDecl {
  readonly kind: "import";
  readonly span: Span;
  readonly path: readonly Ident[];
}
export interface InterfaceDecl {
  readonly kind: "interface";
  readonly span: Span;
  readonly name: Ident;
  readonly inputs: readonly ParamSig[];
  readonly result?: TypeExpr;
}
export interface ImplementsClause {
  readonly iface: Ident;
  readonly bindings: readonly Setting[];
  readonly span: Span;
}
export interface ModuleDecl {
  readonly kind: "module";
  readonly span: Span;
  readonly name: Ident;
  readonly hypers: readonly ParamSig[];
  readonly inputs?: readonly ParamSig[]; // absent when the inputs come from `implements`
  readonly result?: TypeExpr;
  readonly impl?: ImplementsClause;
  readonly body: Block;
}
export interface ModelDecl {
  readonly kind: "model";
  readonly span: Span;
  readonly name: Ident;
  readonly body: Block;
}
export type Decl = ImportDecl | InterfaceDecl | ModuleDecl | ModelDecl;

export interface Program {
  readonly file: string;
  readonly span: Span;
  readonly decls: readonly Decl[];
}

export const spanUnion = (a: Span, b: Span): Span => ({
  file: a.file,
  start: Math.min(a.start, b.start),
  end: Math.max(a.end, b.end),
});
