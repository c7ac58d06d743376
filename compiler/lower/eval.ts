// eval.ts: the elaborator proper — evaluates a checked .mira AST with concrete config values and
// batch sizes, emitting IR through GraphBuilder. Module instances get stable dotted paths (let-bound
// name, else snake_case of the module, deduplicated; `repeat … as layers` adds `layers.<i>`), so
// parameter names do not depend on evaluation order. Runs only on programs the checker accepted;
// what only concrete sizes reveal (divisibility, bounds) aborts with a located diagnostic.
import type * as A from "../../dsl/ast.js";
import { BUILTINS } from "../../dsl/check/builtins.js";
import { type KnownCode, type Note, diag } from "../../dsl/diagnostics.js";
import { GraphBuilder } from "../builder.js";
import { DTYPES } from "../dtype.js";
import { IrError, type Node } from "../ir.js";
import { binary, scalar } from "../ops/helpers.js";
import type { NodeBuilder } from "../ops/spec.js";
import { type Arg, bindDims, bindSlots } from "./args.js";
import { BIN_OPS, floorMod, staticArith } from "./arith.js";
import { LOWERINGS, type LowerCtx, VALUE_BUILTINS } from "./builtins.js";
import { evalIndex } from "./index-expr.js";
import type { NodeOrigin, ParamInfo, RepeatRecord, ScanRecord } from "./records.js";
import { ElabAbort, Env, type InitSpec, type Instance, type Val, describeVal, joinPath, snakeCase } from "./values.js";

export type { Arg } from "./args.js";
export type { NodeOrigin, ParamInfo, RepeatRecord, ScanRecord } from "./records.js";

/** Bounds that keep a hostile or mistaken model from exhausting memory or the stack. */
const MAX_NODES = 2_000_000;
const MAX_CALL_DEPTH = 64;

export class Elaborator {
  readonly graph = new GraphBuilder();
  readonly params: ParamInfo[] = [];
  private readonly instances = new Map<string, Instance>();
  private readonly modelParams = new Map<string, Node>();
  private depth = 0;
  /** Calls being applied, outermost first, for the notes of an elaboration error. */
  private readonly calls: { span: A.Span; module: string }[] = [];
  /** `calls` as an immutable snapshot, shared by the origins of the nodes built under it. */
  private frames: NodeOrigin["calls"] = [];
  readonly origins = new Map<number, NodeOrigin>();
  /** every scan as unrolled, in elaboration order */
  readonly scans: ScanRecord[] = [];
  /** every repeat as unrolled, in elaboration order */
  readonly repeats: RepeatRecord[] = [];
  private nodeCount = 0;
  span: A.Span;

  /** Checked node building: an op's rule rejecting its inputs becomes an M3006 at the current span. */
  readonly b: NodeBuilder = {
    add: (op, inputs, attrs) => {
      if (++this.nodeCount > MAX_NODES)
        this.fail("M3006", `the graph passes ${MAX_NODES} nodes`, "lower repeat counts or scan lengths");
      const node = this.guard(() => this.graph.add(op, inputs, attrs));
      this.origins.set(node.id, { span: this.span, calls: this.frames });
      return node;
    },
  };

  readonly lower: LowerCtx = {
    b: this.b,
    fail: (m, h) => this.fail("M3006", m, h),
    tensor: (v, what) =>
      v?.k === "tensor"
        ? v.node
        : this.fail("M3006", `${what} must be a tensor, not ${v ? describeVal(v) : "missing"}`),
    int: (v, what) =>
      v?.k === "int" ? v.v : this.fail("M3006", `${what} must be an integer, not ${v ? describeVal(v) : "missing"}`),
    num: (v, what) =>
      v?.k === "int" || v?.k === "float"
        ? v.v
        : this.fail("M3006", `${what} must be a number, not ${v ? describeVal(v) : "missing"}`),
  };

  constructor(
    readonly modules: ReadonlyMap<string, A.ModuleDecl>,
    readonly interfaces: ReadonlyMap<string, A.InterfaceDecl>,
    readonly batch: Readonly<Record<string, number>>,
    file: string,
    readonly defaultBatch?: number,
  ) {
    this.span = { file, start: 0, end: 0 };
  }

  fail(code: KnownCode, message: string, hint?: string): never {
    throw new ElabAbort({ ...diag(code, this.span, message, hint), ...this.callNotes() });
  }

  /** The module calls that led here, innermost first: an error inside std/nn.mira then also points
   *  at the line of the user's file that passed the bad size. Deep chains keep their two ends. */
  private callNotes(): { notes?: Note[] } {
    if (this.calls.length === 0) return {};
    const frames = [...this.calls].reverse();
    const kept = frames.length <= 4 ? frames : [...frames.slice(0, 3), frames[frames.length - 1]];
    return { notes: kept.map((c) => ({ span: c.span, message: `in ${c.module}, called here` })) };
  }

  /** Forgets the module calls an abort left open, before the next top-level statement runs. */
  unwind(): void {
    this.depth = 0;
    this.calls.length = 0;
    this.frames = [];
  }

  /** The graph passed MAX_NODES: every further statement would only fail the same way. */
  get exhausted(): boolean {
    return this.nodeCount > MAX_NODES;
  }

  guard<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof IrError)
        this.fail(
          "M3006",
          e.message,
          "the shapes only disagree with these config values; check the config and batch sizes",
        );
      throw e;
    }
  }

  // ---- expressions ------------------------------------------------------------------------

  expr(e: A.Expr, env: Env, nameHint?: string): Val {
    this.span = e.span;
    switch (e.kind) {
      case "number":
        return e.isInt ? { k: "int", v: e.value } : { k: "float", v: e.value };
      case "name":
        return this.name(e.name, env);
      case "neg": {
        const v = this.expr(e.operand, env);
        this.span = e.span;
        if (v.k === "int" || v.k === "float") return { k: v.k, v: -v.v };
        return { k: "tensor", node: this.b.add("neg", [this.lower.tensor(v, "the operand of '-'")]) };
      }
      case "binary":
        return this.binary(e, env);
      case "list":
        return { k: "list", items: e.items.map((x) => this.expr(x, env)) };
      case "index": {
        const target = this.lower.tensor(this.expr(e.target, env), "an indexed value");
        this.span = e.span;
        return { k: "tensor", node: evalIndex(this, e, target, env) };
      }
      case "call":
        return this.call(e, env, nameHint);
      case "scan":
        return this.scan(e, env);
      case "error":
        return this.fail(
          "M3006",
          "cannot elaborate a program with syntax errors",
          "fix the errors `mira check` reports first",
        );
    }
  }

  name(name: string, env: Env): Val {
    const v = env.get(name);
    if (v?.k === "unknown") throw new ElabAbort(); // its statement's error is already reported
    if (v) return v;
    const m = this.modules.get(name);
    if (m) return { k: "module", decl: m };
    if (Object.hasOwn(VALUE_BUILTINS, name)) return VALUE_BUILTINS[name];
    if (Object.hasOwn(LOWERINGS, name)) return { k: "builtin", name };
    if (Object.hasOwn(this.batch, name)) return { k: "int", v: this.batch[name] };
    return this.fail("M3004", `'${name}' has no value`, `bind it with a batch size, e.g. { ${name}: 8 }`);
  }

  private binary(e: A.BinaryExpr, env: Env): Val {
    const l = this.expr(e.left, env);
    const r = this.expr(e.right, env);
    this.span = e.span;
    const isNum = (v: Val): v is Extract<Val, { k: "int" | "float" }> => v.k === "int" || v.k === "float";
    if (isNum(l) && isNum(r)) return staticArith(this, e, l, r);
    if (e.op === "@")
      return {
        k: "tensor",
        node: this.b.add("matmul", [
          this.lower.tensor(l, "the left operand of '@'"),
          this.lower.tensor(r, "the right operand of '@'"),
        ]),
      };
    const op = BIN_OPS[e.op] ?? (e.op === "%" ? "%" : this.fail("M3006", `'${e.op}' is not defined on tensors`));
    const x = l.k === "tensor" ? l.node : undefined;
    const y = r.k === "tensor" ? r.node : undefined;
    const like =
      x ?? y ?? this.fail("M3006", `'${e.op}' needs numbers or tensors, not ${describeVal(l)} and ${describeVal(r)}`);
    const asNode = (v: Val, n: Node | undefined): Node =>
      n ?? (isNum(v) ? scalar(this.b, v.v, like.dtype) : this.fail("M3006", `'${e.op}' cannot use ${describeVal(v)}`));
    const [a, b] = [asNode(l, x), asNode(r, y)];
    if (op === "%") return { k: "tensor", node: this.guard(() => floorMod(this.b, a, b)) };
    return { k: "tensor", node: this.guard(() => binary(this.b, op, a, b)) };
  }

  private call(e: A.CallExpr, env: Env, nameHint?: string): Val {
    const callee = this.expr(e.callee, env);
    const args = e.args.map((a) => ({ name: a.name?.name, value: this.expr(a.value, env) }));
    this.span = e.span;
    if (callee.k === "builtin") {
      const slots = BUILTINS[callee.name]?.slots ?? [];
      return this.guard(() =>
        LOWERINGS[callee.name](
          this.lower,
          bindSlots(
            this,
            args,
            slots.map((s) => s.name),
          ),
        ),
      );
    }
    if (callee.k === "module") return this.construct(callee.decl, e, env, args, nameHint);
    if (callee.k === "instance") return this.apply(callee, args);
    return this.fail("M3006", `${describeVal(callee)} cannot be called`);
  }

  // ---- modules ----------------------------------------------------------------------------

  construct(
    decl: A.ModuleDecl,
    call: A.CallExpr | undefined,
    env: Env,
    args: readonly Arg[],
    nameHint?: string,
    fixedPath?: string,
  ): Instance {
    const key = `${env.path}|${call ? `${call.span.file}:${call.span.start}` : fixedPath}`;
    const hit = this.instances.get(key);
    if (hit) return hit;
    const hyperEnv = new Env(undefined, "");
    const values = bindSlots(
      this,
      args,
      decl.hypers.map((h) => h.name.name),
    );
    const hypers = new Map<string, Val>();
    decl.hypers.forEach((h, i) => {
      const v =
        values[i] ??
        (h.default ? this.expr(h.default, hyperEnv) : this.fail("M3006", `${decl.name.name} needs '${h.name.name}'`));
      hypers.set(h.name.name, v);
      hyperEnv.define(h.name.name, v);
    });
    let name = fixedPath ?? nameHint;
    if (name === undefined) {
      if (env.soleAnonymous) name = "";
      else {
        const base = snakeCase(decl.name.name);
        name = base;
        for (let i = 1; env.taken.has(name); i++) name = `${base}_${i}`;
      }
    }
    env.taken.add(name);
    const inst: Instance = {
      k: "instance",
      decl,
      hypers,
      path: fixedPath ?? joinPath(env.path, name),
      params: new Map(),
    };
    this.instances.set(key, inst);
    return inst;
  }

  apply(inst: Instance, args: readonly Arg[]): Val {
    if (++this.depth > MAX_CALL_DEPTH)
      this.fail(
        "M3006",
        `modules nest more than ${MAX_CALL_DEPTH} calls deep`,
        `does ${inst.decl.name.name} call itself?`,
      );
    const decl = inst.decl;
    this.calls.push({ span: this.span, module: decl.name.name });
    this.frames = [...this.calls];
    const iface = decl.impl ? this.interfaces.get(decl.impl.iface.name) : undefined;
    const inputs = decl.inputs ?? iface?.inputs ?? [];
    const env = new Env(undefined, inst.path, false, inst);
    for (const [k, v] of inst.hypers) env.define(k, v);
    const vals = bindSlots(
      this,
      args,
      inputs.map((p) => p.name.name),
    );
    inputs.forEach((p, i) => {
      const v =
        vals[i] ??
        (p.default ? this.expr(p.default, env) : this.fail("M3006", `${decl.name.name} needs input '${p.name.name}'`));
      if (v.k === "tensor" && p.type?.dims) bindDims(env, p.type.dims, v.node.shape);
      env.define(p.name.name, v);
    });
    const ret = this.block(decl.body.stmts, env);
    this.depth--;
    this.calls.pop();
    this.frames = [...this.calls];
    return ret ?? this.fail("M3006", `${decl.name.name} returned nothing`);
  }

  // ---- statements -------------------------------------------------------------------------

  /** Runs statements; returns the value of a `return`, if one ran. */
  block(stmts: readonly A.Stmt[], env: Env, yields?: Val[]): Val | undefined {
    for (const s of stmts) {
      this.span = s.span;
      switch (s.kind) {
        case "let":
          env.define(s.name.name, this.expr(s.value, env, s.name.name));
          break;
        case "assign":
          env.assign(s.name.name, this.expr(s.value, env));
          break;
        case "param":
          env.define(s.name.name, { k: "tensor", node: this.param(s, env) });
          break;
        case "repeat":
          this.repeat(s, env);
          break;
        case "return":
          return this.expr(s.value, env);
        case "yield":
          yields?.push(this.expr(s.value, env));
          break;
        default:
          break; // model-level statements are run by lower.ts
      }
    }
    return undefined;
  }

  param(s: Extract<A.Stmt, { kind: "param" }>, env: Env): Node {
    const table = env.owner?.params ?? this.modelParams;
    const existing = table.get(s.name.name);
    if (existing) return existing;
    const shape = (s.type.dims ?? []).map((d) =>
      d.kind === "rest" ? this.fail("M3006", "a param cannot have '...' dims") : this.dim(d, env),
    );
    const dtype = DTYPES.find((t) => t === s.type.name.name) ?? "f32";
    const init: InitSpec = s.init ? initOf(this, this.expr(s.init, env)) : { kind: "normal", std: 0.02 };
    const name = joinPath(env.owner?.path ?? env.path, s.name.name);
    const node = this.guard(() => this.graph.param(name, dtype, shape));
    table.set(s.name.name, node);
    this.params.push({ name, shape, dtype, init });
    return node;
  }

  private repeat(s: Extract<A.Stmt, { kind: "repeat" }>, env: Env): void {
    const n = this.lower.int(this.expr(s.count, env), "the repeat count");
    if (n < 0 || n > 10_000) this.fail("M3005", `repeat count ${n} is outside 0..10000`);
    const as = s.as?.name ?? "layers";
    const sole = countConstructions(this, s.body.stmts) === 1;
    const iterations: RepeatRecord["iterations"][number][] = [];
    for (let i = 0; i < n; i++) {
      const start = this.graph.size;
      this.block(s.body.stmts, new Env(env, joinPath(env.path, `${as}.${i}`), sole));
      iterations.push({ start, end: this.graph.size });
    }
    this.repeats.push({ span: s.span, iterations });
  }

  private scan(e: A.ScanExpr, env: Env): Val {
    const n = this.lower.int(this.expr(e.over, env), "the scan length");
    if (n < 1 || n > 100_000) this.fail("M3005", `scan length ${n} is outside 1..100000`);
    const carries = new Env(env, env.path);
    for (const c of e.carries) {
      const isFill = c.init.kind === "name" && (c.init.name === "zeros" || c.init.name === "ones") && c.type;
      const v = isFill
        ? this.filled(c.type!, (c.init as A.NameExpr).name === "ones" ? 1 : 0, env)
        : this.expr(c.init, env);
      carries.define(c.name.name, v);
    }
    const outs: Node[] = [];
    const carried = (): number[] =>
      e.carries.map((c) => {
        const v = carries.get(c.name.name);
        return v?.k === "tensor" ? v.node.id : -1;
      });
    const inits = carried();
    const steps: ScanRecord["steps"][number][] = [];
    for (let t = 0; t < n; t++) {
      const start = this.graph.size;
      const step = new Env(carries, env.path);
      step.define(e.index.name, { k: "int", v: t });
      const ys: Val[] = [];
      this.block(e.body.stmts, step, ys);
      const y = this.lower.tensor(ys.at(-1), "the yielded value");
      const at = y.shape.length >= 1 ? 1 : 0;
      outs.push(this.b.add("reshape", [y], { shape: [...y.shape.slice(0, at), 1, ...y.shape.slice(at)] }));
      steps.push({ start, end: this.graph.size, carries: carried(), yield: outs[t].id });
    }
    this.span = e.span;
    const at = outs[0].shape.length >= 2 ? 1 : 0; // where each step's reshape put its new axis
    const out = this.b.add("concat", outs, { axis: at });
    this.scans.push({ span: e.span, inits, steps, out: out.id });
    return { k: "tensor", node: out };
  }

  filled(t: A.TypeExpr, value: number, env: Env): Val {
    const shape = (t.dims ?? []).map((d) => (d.kind === "rest" ? 1 : this.dim(d, env)));
    const dtype = DTYPES.find((x) => x === t.name.name) ?? "f32";
    return { k: "tensor", node: this.b.add("full", [], { value, dtype, shape }) };
  }

  /** A dimension expression evaluated to a whole number ≥ 0. */
  dim(e: A.Expr, env: Env): number {
    const v = this.expr(e, env);
    this.span = e.span;
    if (v.k !== "int" || v.v < 0)
      this.fail(
        "M3005",
        `dimension is ${describeVal(v)}, not a whole number ≥ 0`,
        "check the config values this dimension is computed from",
      );
    return v.v;
  }
}

function initOf(el: Elaborator, v: Val): InitSpec {
  if (v.k === "init") return v.init;
  if (v.k === "builtin" && v.name === "zeros") return { kind: "zeros" };
  if (v.k === "builtin" && v.name === "ones") return { kind: "ones" };
  return el.fail("M3006", `not an initialiser: ${describeVal(v)}`);
}

/** Module constructions written directly in a block (not inside nested blocks or scans). */
function countConstructions(el: Elaborator, stmts: readonly A.Stmt[]): number {
  let n = 0;
  const visit = (e: A.Expr | undefined): void => {
    if (!e) return;
    if (e.kind === "call") {
      if (e.callee.kind === "name" && el.modules.has(e.callee.name)) n++;
      visit(e.callee);
      e.args.forEach((a) => visit(a.value));
    } else if (e.kind === "binary") {
      visit(e.left);
      visit(e.right);
    } else if (e.kind === "neg") visit(e.operand);
    else if (e.kind === "index") visit(e.target);
    else if (e.kind === "list") e.items.forEach(visit);
  };
  for (const s of stmts) if (s.kind === "let" || s.kind === "assign" || s.kind === "return") visit(s.value);
  return n;
}
