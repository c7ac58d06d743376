// cst-to-ast.ts: turns Chevrotain's CST into the AST of ast.ts. After error recovery the CST may lack
// any child, and tokens inserted by recovery have no offsets, so every access here has a fallback.
// Expression trees deeper than MAX_EXPR_DEPTH become an error node, which bounds the recursion of
// every later pass (checker, formatter, elaborator) whatever the input.
import type { CstElement, CstNode, IToken } from "chevrotain";
import type * as A from "./ast.js";
import { type Diagnostic, diag } from "./diagnostics.js";

export const MAX_EXPR_DEPTH = 200;

const isNode = (e: CstElement): e is CstNode => "children" in e;

export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly depth = new WeakMap<A.Expr, number>();
  private deepReported = false;

  constructor(
    private readonly file: string,
    private readonly textLength: number,
  ) {}

  // ---- CST access ---------------------------------------------------------------------------

  private toks(n: CstNode | undefined, key: string): IToken[] {
    const xs = n?.children[key] ?? [];
    return xs.filter((x): x is IToken => !isNode(x) && !x.isInsertedInRecovery && Number.isFinite(x.startOffset));
  }
  private tok(n: CstNode | undefined, key: string, i = 0): IToken | undefined {
    return this.toks(n, key)[i];
  }
  private nodes(n: CstNode | undefined, key: string): CstNode[] {
    return (n?.children[key] ?? []).filter(isNode);
  }
  private node(n: CstNode | undefined, key: string, i = 0): CstNode | undefined {
    return this.nodes(n, key)[i];
  }

  private spanOf(n: CstNode | undefined, fallback: A.Span): A.Span {
    const loc = n?.location;
    if (!loc || !Number.isFinite(loc.startOffset)) return fallback;
    const end = Number.isFinite(loc.endOffset) ? (loc.endOffset as number) + 1 : loc.startOffset + 1;
    return { file: this.file, start: loc.startOffset, end: Math.max(end, loc.startOffset) };
  }
  private tokSpan(t: IToken): A.Span {
    return { file: this.file, start: t.startOffset, end: t.startOffset + t.image.length };
  }
  private ident(t: IToken | undefined, fallback: A.Span): A.Ident {
    return t ? { name: t.image, span: this.tokSpan(t) } : { name: "", span: fallback };
  }

  // ---- declarations -------------------------------------------------------------------------

  program(cst: CstNode | undefined): A.Program {
    const whole: A.Span = { file: this.file, start: 0, end: this.textLength };
    const decls: A.Decl[] = [];
    for (const d of this.nodes(cst, "decl")) {
      const x = this.decl(d, this.spanOf(d, whole));
      if (x) decls.push(x);
    }
    return { file: this.file, span: whole, decls };
  }

  private decl(n: CstNode, sp: A.Span): A.Decl | undefined {
    const imp = this.node(n, "importDecl");
    if (imp)
      return {
        kind: "import",
        span: this.spanOf(imp, sp),
        path: this.toks(imp, "Identifier").map((t) => this.ident(t, sp)),
      };
    const itf = this.node(n, "interfaceDecl");
    if (itf) {
      const s = this.spanOf(itf, sp);
      const result = this.node(itf, "typeExpr");
      return {
        kind: "interface",
        span: s,
        name: this.ident(this.tok(itf, "Identifier"), s),
        inputs: this.paramList(this.node(itf, "paramList"), s),
        result: result && this.typeExpr(result, s),
      };
    }
    const mod = this.node(n, "moduleDecl");
    if (mod) return this.moduleDecl(mod, this.spanOf(mod, sp));
    const model = this.node(n, "modelDecl");
    if (model) {
      const s = this.spanOf(model, sp);
      return {
        kind: "model",
        span: s,
        name: this.ident(this.tok(model, "Identifier"), s),
        body: this.block(this.node(model, "block"), s),
      };
    }
    return undefined;
  }

  private moduleDecl(n: CstNode, s: A.Span): A.ModuleDecl {
    const impl = this.node(n, "implementsClause");
    const inputs = this.node(n, "inputs");
    const result = this.node(n, "typeExpr");
    return {
      kind: "module",
      span: s,
      name: this.ident(this.tok(n, "Identifier"), s),
      hypers: this.paramList(this.node(n, "hypers"), s),
      inputs: inputs ? this.paramList(inputs, s) : undefined,
      result: result ? this.typeExpr(result, s) : undefined,
      impl: impl
        ? {
            iface: this.ident(this.tok(impl, "Identifier"), this.spanOf(impl, s)),
            bindings: this.nodes(impl, "setting").map((x) => this.setting(x, s)),
            span: this.spanOf(impl, s),
          }
        : undefined,
      body: this.block(this.node(n, "block"), s),
    };
  }

  private paramList(n: CstNode | undefined, sp: A.Span): A.ParamSig[] {
    return this.nodes(n, "paramSig").map((p) => this.paramSig(p, this.spanOf(p, sp)));
  }

  private paramSig(n: CstNode, s: A.Span): A.ParamSig {
    const type = this.node(n, "typeExpr");
    const value = this.node(n, "expression");
    return {
      name: this.ident(this.tok(n, "Identifier"), s),
      type: type && this.typeExpr(type, s),
      default: value && this.expr(value, s),
      span: s,
    };
  }

  private setting(n: CstNode, sp: A.Span): A.Setting {
    const s = this.spanOf(n, sp);
    return {
      name: this.ident(this.tok(n, "Identifier"), s),
      value: this.exprOrError(this.node(n, "expression"), s),
      span: s,
    };
  }

  private typeExpr(n: CstNode, sp: A.Span): A.TypeExpr {
    const s = this.spanOf(n, sp);
    const hasDims = this.toks(n, "LBracket").length > 0 || this.nodes(n, "dimItem").length > 0;
    const dims = this.nodes(n, "dimItem").map((d): A.DimItem => {
      const ds = this.spanOf(d, s);
      const e = this.tok(d, "Ellipsis");
      return e ? { kind: "rest", span: this.tokSpan(e) } : this.exprOrError(this.node(d, "expression"), ds);
    });
    return { span: s, name: this.ident(this.tok(n, "Identifier"), s), dims: hasDims ? dims : undefined };
  }

  // ---- statements ---------------------------------------------------------------------------

  private block(n: CstNode | undefined, sp: A.Span): A.Block {
    const s = this.spanOf(n, sp);
    const stmts: A.Stmt[] = [];
    for (const st of this.nodes(n, "statement")) {
      const x = this.statement(st, this.spanOf(st, s));
      if (x) stmts.push(x);
    }
    return { span: s, stmts };
  }

  private statement(n: CstNode, sp: A.Span): A.Stmt | undefined {
    const c = n.children;
    const first = Object.values(c)[0]?.[0];
    if (!first || !isNode(first)) return undefined;
    const s = this.spanOf(first, sp);
    const name = this.ident(this.tok(first, "Identifier"), s);
    const value = () => this.exprOrError(this.node(first, "expression"), s);
    const type = () => {
      const t = this.node(first, "typeExpr");
      return t ? this.typeExpr(t, s) : { span: s, name: { name: "", span: s } };
    };
    switch (first.name) {
      case "letStmt": {
        const t = this.node(first, "typeExpr");
        return { kind: "let", span: s, name, type: t && this.typeExpr(t, s), value: value() };
      }
      case "assignStmt":
        return { kind: "assign", span: s, name, value: value() };
      case "paramStmt": {
        const init = this.node(first, "expression");
        return { kind: "param", span: s, name, type: type(), init: init && this.expr(init, s) };
      }
      case "repeatStmt": {
        const as = this.tok(first, "Identifier");
        return {
          kind: "repeat",
          span: s,
          count: value(),
          as: as && this.ident(as, s),
          body: this.block(this.node(first, "block"), s),
        };
      }
      case "returnStmt":
        return { kind: "return", span: s, value: value() };
      case "yieldStmt":
        return { kind: "yield", span: s, value: value() };
      case "inputStmt":
        return { kind: "input", span: s, name, type: type() };
      case "outputStmt":
        return { kind: "output", span: s, name, value: value() };
      case "lossStmt":
        return { kind: "loss", span: s, name, value: value() };
      case "objectiveStmt":
        return { kind: "objective", span: s, value: value() };
      case "generateStmt": {
        const until = this.node(first, "expression");
        return {
          kind: "generate",
          span: s,
          input: name,
          from: this.ident(this.tok(first, "Identifier", 1), s),
          until: until && this.expr(until, s),
        };
      }
      case "configStmt":
        return {
          kind: "config",
          span: s,
          fields: this.nodes(first, "paramSig").map((p) => this.paramSig(p, this.spanOf(p, s))),
        };
      case "presetStmt":
        return {
          kind: "preset",
          span: s,
          name: this.presetName(first, name),
          entries: this.nodes(first, "setting").map((x) => this.setting(x, s)),
        };
      default:
        return undefined;
    }
  }

  /** `preset 3b`: digits and a name written together form one name. */
  private presetName(n: CstNode, name: A.Ident): A.Ident {
    const digits = this.tok(n, "NumberLit");
    if (!digits) return name;
    const rest = this.tok(n, "Identifier");
    const adjacent = rest !== undefined && rest.startOffset === digits.startOffset + digits.image.length;
    const text = digits.image + (adjacent ? rest.image : "");
    const span: A.Span = { file: this.file, start: digits.startOffset, end: digits.startOffset + text.length };
    if (!/^[0-9]+[A-Za-z_][A-Za-z0-9_]*$/.test(text)) {
      this.diagnostics.push(
        diag(
          "M1002",
          span,
          `'${text}' is not a preset name`,
          "a preset name is letters, digits and _, with no spaces, e.g. tiny or 3b",
        ),
      );
      return { name: "", span };
    }
    return { name: text, span };
  }

  // ---- expressions --------------------------------------------------------------------------

  exprOrError(n: CstNode | undefined, sp: A.Span): A.Expr {
    return n ? this.expr(n, sp) : { kind: "error", span: sp };
  }

  /** Records depth and replaces a too-deep node by an error node (reported once per file). */
  private mk(e: A.Expr, children: readonly (A.Expr | undefined)[]): A.Expr {
    let d = 0;
    for (const c of children) if (c) d = Math.max(d, this.depth.get(c) ?? 1);
    if (d + 1 > MAX_EXPR_DEPTH) {
      if (!this.deepReported) {
        this.deepReported = true;
        this.diagnostics.push(
          diag(
            "M1003",
            e.span,
            `expression nested more than ${MAX_EXPR_DEPTH} levels deep`,
            "split the expression with `let` bindings",
          ),
        );
      }
      const err: A.Expr = { kind: "error", span: e.span };
      this.depth.set(err, 1);
      return err;
    }
    this.depth.set(e, d + 1);
    return e;
  }

  expr(n: CstNode, sp: A.Span): A.Expr {
    const s = this.spanOf(n, sp);
    const left = this.additive(this.node(n, "additive"), s);
    const op = this.tok(n, "op");
    const rightNode = this.node(n, "additive", 1);
    if (!op || !rightNode) return left;
    const right = this.additive(rightNode, s);
    return this.mk({ kind: "binary", span: A_union(left.span, right.span), op: op.image as A.BinaryOp, left, right }, [
      left,
      right,
    ]);
  }

  /** Left-associative chains are built in a loop: a 10 000-term sum costs no recursion here. */
  private chain(
    n: CstNode | undefined,
    sp: A.Span,
    sub: string,
    each: (c: CstNode | undefined, s: A.Span) => A.Expr,
  ): A.Expr {
    const s = this.spanOf(n, sp);
    const operands = this.nodes(n, sub);
    const ops = this.toks(n, "op");
    let acc = each(operands[0], s);
    for (let i = 1; i < operands.length; i++) {
      const right = each(operands[i], s);
      const op = (ops[i - 1]?.image ?? "+") as A.BinaryOp;
      acc = this.mk({ kind: "binary", span: A_union(acc.span, right.span), op, left: acc, right }, [acc, right]);
    }
    return acc;
  }

  private additive(n: CstNode | undefined, sp: A.Span): A.Expr {
    return this.chain(n, sp, "multiplicative", (c, s) => this.multiplicative(c, s));
  }

  private multiplicative(n: CstNode | undefined, sp: A.Span): A.Expr {
    return this.chain(n, sp, "unary", (c, s) => this.unary(c, s));
  }

  private unary(n: CstNode | undefined, sp: A.Span): A.Expr {
    const s = this.spanOf(n, sp);
    const minus = this.toks(n, "Minus");
    let e = this.postfix(this.node(n, "postfix"), s);
    for (let i = minus.length - 1; i >= 0; i--) {
      e = this.mk(
        { kind: "neg", span: { file: this.file, start: minus[i].startOffset, end: e.span.end }, operand: e },
        [e],
      );
    }
    return e;
  }

  private postfix(n: CstNode | undefined, sp: A.Span): A.Expr {
    const s = this.spanOf(n, sp);
    let e = this.primary(this.node(n, "primary"), s);
    // Suffixes appear in source order; Chevrotain groups them by rule, so merge by offset.
    const suffixes = [...this.nodes(n, "callSuffix"), ...this.nodes(n, "indexSuffix")].sort(
      (a, b) => (a.location?.startOffset ?? 0) - (b.location?.startOffset ?? 0),
    );
    for (const suf of suffixes) {
      const ss = this.spanOf(suf, s);
      const span = A_union(e.span, ss);
      if (suf.name === "callSuffix") {
        const args = this.nodes(suf, "arg").map((a) => this.arg(a, ss));
        e = this.mk({ kind: "call", span, callee: e, args }, [e, ...args.map((a) => a.value)]);
      } else {
        const items = this.nodes(suf, "sliceItem").map((it) => this.sliceItem(it, ss));
        const kids = items.flatMap((it) =>
          it.kind === "at" ? [it.index] : it.kind === "range" ? [it.start, it.end, it.step] : [],
        );
        e = this.mk({ kind: "index", span, target: e, items }, [e, ...kids]);
      }
    }
    return e;
  }

  private arg(n: CstNode, sp: A.Span): A.Arg {
    const s = this.spanOf(n, sp);
    const name = this.tok(n, "Identifier");
    return { name: name && this.ident(name, s), value: this.exprOrError(this.node(n, "expression"), s), span: s };
  }

  private sliceItem(n: CstNode, sp: A.Span): A.SliceItem {
    const s = this.spanOf(n, sp);
    if (this.tok(n, "Ellipsis")) return { kind: "ellipsis", span: s };
    const startNode = this.node(n, "start");
    const start = startNode && this.expr(startNode, s);
    const tail = this.node(n, "sliceTail");
    if (!tail) return start ? { kind: "at", span: s, index: start } : { kind: "range", span: s };
    const end = this.node(tail, "end");
    const step = this.node(tail, "step");
    return { kind: "range", span: s, start, end: end && this.expr(end, s), step: step && this.expr(step, s) };
  }

  private primary(n: CstNode | undefined, sp: A.Span): A.Expr {
    const s = this.spanOf(n, sp);
    const num = this.tok(n, "NumberLit");
    if (num) return this.mk(this.number(num), []);
    const id = this.tok(n, "Identifier");
    if (id) return this.mk({ kind: "name", span: this.tokSpan(id), name: id.image }, []);
    const paren = this.node(n, "parenExpr");
    if (paren) {
      const inner = this.exprOrError(this.node(paren, "expression"), this.spanOf(paren, s));
      return inner;
    }
    const list = this.node(n, "listExpr");
    if (list) {
      const ls = this.spanOf(list, s);
      const items = this.nodes(list, "expression").map((x) => this.expr(x, ls));
      return this.mk({ kind: "list", span: ls, items }, items);
    }
    const scan = this.node(n, "scanExpr");
    if (scan) return this.scan(scan, this.spanOf(scan, s));
    return { kind: "error", span: s };
  }

  private scan(n: CstNode, s: A.Span): A.Expr {
    const carries = this.nodes(n, "carryDecl").map((c): A.Carry => {
      const cs = this.spanOf(c, s);
      const t = this.node(c, "typeExpr");
      return {
        name: this.ident(this.tok(c, "Identifier"), cs),
        type: t && this.typeExpr(t, cs),
        init: this.exprOrError(this.node(c, "expression"), cs),
        span: cs,
      };
    });
    const over = this.exprOrError(this.node(n, "expression"), s);
    return this.mk(
      {
        kind: "scan",
        span: s,
        index: this.ident(this.tok(n, "Identifier"), s),
        over,
        carries,
        body: this.block(this.node(n, "block"), s),
      },
      [over, ...carries.map((c) => c.init)],
    );
  }

  private number(t: IToken): A.NumberExpr {
    const span = this.tokSpan(t);
    const isInt = /^\d+$/.test(t.image);
    const value = Number(t.image);
    if (!Number.isFinite(value) || (isInt && !Number.isSafeInteger(value))) {
      this.diagnostics.push(
        diag(
          "M1004",
          span,
          `number ${t.image.length > 24 ? t.image.slice(0, 24) + "…" : t.image} is out of range`,
          isInt ? "integers must be below 2^53" : "floats must be finite f64 values",
        ),
      );
      return { kind: "number", span, text: "0", value: 0, isInt };
    }
    return { kind: "number", span, text: t.image, value, isInt };
  }
}

function A_union(a: A.Span, b: A.Span): A.Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}
