// format.ts: the canonical layout of .mira (`mira fmt`). Prints the AST — one statement per line,
// two-space indents, minimal parentheses — and puts every comment back: comments before an item
// stay before it, a comment after an item on its line stays there, and a comment inside an
// expression moves to just before its statement. Running it twice changes nothing.
import type * as A from "./ast.js";
import { type Diagnostic, hasErrors } from "./diagnostics.js";
import { type Comment, parse } from "./parse.js";

const IND = "  ";

export function format(source: string, file = "<input>"): { result?: string; diagnostics: Diagnostic[] } {
  const parsed = parse(source, file);
  if (hasErrors(parsed.diagnostics)) return { diagnostics: parsed.diagnostics };
  return { result: new Printer(source, parsed.comments).program(parsed.result), diagnostics: parsed.diagnostics };
}

interface Item {
  readonly span: A.Span;
  print(indent: string): string[];
}

class Printer {
  private next = 0; // index of the first comment not yet printed

  constructor(
    private readonly src: string,
    private readonly comments: readonly Comment[],
  ) {}

  program(p: A.Program): string {
    const lines = this.items(
      p.decls.map((d) => ({ span: d.span, print: (ind: string) => this.decl(d, ind) })),
      "",
      this.src.length,
    );
    return (
      lines
        .join("\n")
        .replace(/\n{3,}/g, "\n\n")
        .trim() + "\n"
    );
  }

  /** Comments that start before `offset` and are not yet printed. */
  private take(offset: number): Comment[] {
    const out: Comment[] = [];
    while (this.next < this.comments.length && this.comments[this.next].span.start < offset)
      out.push(this.comments[this.next++]);
    return out;
  }

  private blankBefore(from: number, to: number): boolean {
    return from >= 0 && /\n[ \t\r]*\n/.test(this.src.slice(from, to));
  }

  /** A block's items with their comments; `end` is where the block's closing brace starts. */
  private items(items: readonly Item[], ind: string, end: number): string[] {
    const out: string[] = [];
    let prevEnd = -1;
    for (const it of items) {
      const leading = this.take(it.span.start);
      const groupStart = leading[0]?.span.start ?? it.span.start;
      if (out.length > 0 && this.blankBefore(prevEnd, groupStart)) out.push("");
      const body = it.print(ind);
      const inner = this.take(it.span.end); // comments inside an expression: moved before the item
      // Blank lines between leading comments, and between them and the item, are kept (at most one).
      leading.forEach((c, k) => {
        if (k > 0 && this.blankBefore(leading[k - 1].span.end, c.span.start)) out.push("");
        out.push(ind + c.text);
      });
      if (leading.length && this.blankBefore(leading[leading.length - 1].span.end, it.span.start)) out.push("");
      out.push(...inner.map((c) => ind + c.text), ...body);
      prevEnd = it.span.end;
      const trailing = this.comments[this.next];
      if (trailing && trailing.span.start < end && !this.src.slice(it.span.end, trailing.span.start).includes("\n")) {
        out[out.length - 1] += "  " + trailing.text;
        this.next++;
        prevEnd = trailing.span.end;
      }
    }
    const rest = this.take(end);
    if (rest.length && out.length > 0 && this.blankBefore(prevEnd, rest[0].span.start)) out.push("");
    out.push(...rest.map((c) => ind + c.text));
    return out;
  }

  private block(b: A.Block, ind: string): string[] {
    const inner = ind + IND;
    const closing = Math.max(b.span.start, b.span.end - 1);
    return this.items(
      b.stmts.map((s) => ({ span: s.span, print: (i: string) => this.stmt(s, i) })),
      inner,
      closing,
    );
  }

  private decl(d: A.Decl, ind: string): string[] {
    switch (d.kind) {
      case "import":
        return [`${ind}import ${d.path.map((p) => p.name).join(".")}`];
      case "interface":
        return [`${ind}interface ${d.name.name}(${this.params(d.inputs)}) -> ${d.result ? this.type(d.result) : ""}`];
      case "module": {
        const head = d.impl
          ? `module ${d.name.name}(${this.params(d.hypers)}) implements ${d.impl.iface.name}` +
            `${d.impl.bindings.length ? `(${this.settings(d.impl.bindings)})` : ""}`
          : `module ${d.name.name}(${this.params(d.hypers)})(${this.params(d.inputs ?? [])}) -> ` +
            `${d.result ? this.type(d.result) : ""}`;
        return [`${ind}${head} {`, ...this.block(d.body, ind), `${ind}}`];
      }
      case "model":
        return [`${ind}model ${d.name.name} {`, ...this.block(d.body, ind), `${ind}}`];
    }
  }

  private stmt(s: A.Stmt, ind: string): string[] {
    const e = (x: A.Expr) => this.expr(x, ind);
    switch (s.kind) {
      case "let":
        return [`${ind}let ${s.name.name}${s.type ? `: ${this.type(s.type)}` : ""} = ${e(s.value)}`];
      case "assign":
        return [`${ind}${s.name.name} = ${e(s.value)}`];
      case "param":
        return [`${ind}param ${s.name.name}: ${this.type(s.type)}${s.init ? ` = ${e(s.init)}` : ""}`];
      case "repeat":
        return [`${ind}repeat ${e(s.count)}${s.as ? ` as ${s.as.name}` : ""} {`, ...this.block(s.body, ind), `${ind}}`];
      case "return":
      case "yield":
        return [`${ind}${s.kind} ${e(s.value)}`];
      case "input":
        return [`${ind}input ${s.name.name}: ${this.type(s.type)}`];
      case "output":
      case "loss":
        return [`${ind}${s.kind} ${s.name.name} = ${e(s.value)}`];
      case "objective":
        return [`${ind}objective = ${e(s.value)}`];
      case "generate":
        return [`${ind}generate ${s.input.name} from ${s.from.name}${s.until ? ` until ${e(s.until)}` : ""}`];
      case "config": {
        const inner = ind + IND;
        const fields = this.items(
          s.fields.map((f) => ({ span: f.span, print: (i: string) => [i + this.param(f, ind)] })),
          inner,
          s.span.end - 1,
        );
        return fields.length ? [`${ind}config {`, ...fields, `${ind}}`] : [`${ind}config {}`];
      }
      case "preset": {
        const hasComments = this.comments.slice(this.next).some((c) => c.span.start < s.span.end);
        const line = `${ind}preset ${s.name.name} { ${this.settings(s.entries)} }`;
        if (!hasComments && line.length <= 100) return [s.entries.length ? line : `${ind}preset ${s.name.name} {}`];
        const inner = ind + IND;
        const entries = this.items(
          s.entries.map((x) => ({
            span: x.span,
            print: (i: string) => [`${i}${x.name.name} = ${this.expr(x.value, ind)}`],
          })),
          inner,
          s.span.end - 1,
        );
        return [`${ind}preset ${s.name.name} {`, ...entries, `${ind}}`];
      }
    }
  }

  private settings(xs: readonly A.Setting[]): string {
    return xs.map((x) => `${x.name.name} = ${this.expr(x.value, "")}`).join(", ");
  }

  private param(p: A.ParamSig, ind: string): string {
    return (
      `${p.name.name}${p.type ? `: ${this.type(p.type)}` : ""}` +
      `${p.default ? ` = ${this.expr(p.default, ind)}` : ""}`
    );
  }

  private params(ps: readonly A.ParamSig[]): string {
    return ps.map((p) => this.param(p, "")).join(", ");
  }

  private type(t: A.TypeExpr): string {
    if (!t.dims) return t.name.name;
    return `${t.name.name}[${t.dims.map((d) => (d.kind === "rest" ? "..." : this.expr(d, ""))).join(", ")}]`;
  }

  // Expressions: precedence 1 comparison, 2 + -, 3 * / % @, 4 unary minus, 5 postfix/primary.
  private prec(e: A.Expr): number {
    if (e.kind === "binary")
      return ["==", "!=", "<", "<=", ">", ">="].includes(e.op) ? 1 : e.op === "+" || e.op === "-" ? 2 : 3;
    return e.kind === "neg" ? 4 : 5;
  }

  expr(e: A.Expr, ind: string): string {
    const wrap = (x: A.Expr, paren: boolean) => (paren ? `(${this.expr(x, ind)})` : this.expr(x, ind));
    switch (e.kind) {
      case "number":
        return e.text;
      case "name":
        return e.name;
      case "neg":
        return `-${wrap(e.operand, this.prec(e.operand) < 4 || e.operand.kind === "neg")}`;
      case "binary": {
        const p = this.prec(e);
        return (
          `${wrap(e.left, this.prec(e.left) < p || (p === 1 && this.prec(e.left) === 1))} ${e.op} ` +
          `${wrap(e.right, this.prec(e.right) <= p)}`
        );
      }
      case "call":
        return (
          `${wrap(e.callee, this.prec(e.callee) < 5)}(` +
          `${e.args.map((a) => (a.name ? `${a.name.name}: ` : "") + this.expr(a.value, ind)).join(", ")})`
        );
      case "index":
        return `${wrap(e.target, this.prec(e.target) < 5)}[${e.items.map((it) => this.slice(it, ind)).join(", ")}]`;
      case "list":
        return `[${e.items.map((x) => this.expr(x, ind)).join(", ")}]`;
      case "scan": {
        const carries = e.carries
          .map((c) => `${c.name.name}${c.type ? `: ${this.type(c.type)}` : ""} = ${this.expr(c.init, ind)}`)
          .join(", ");
        const head = `scan ${e.index.name} over ${this.expr(e.over, ind)}${carries ? ` carry ${carries}` : ""} {`;
        return [head, ...this.block(e.body, ind), `${ind}}`].join("\n");
      }
      case "error":
        return "";
    }
  }

  private slice(it: A.SliceItem, ind: string): string {
    if (it.kind === "ellipsis") return "...";
    if (it.kind === "at") return this.expr(it.index, ind);
    const part = (x?: A.Expr) => (x ? this.expr(x, ind) : "");
    return `${part(it.start)}:${part(it.end)}${it.step ? `:${part(it.step)}` : ""}`;
  }
}
