// lower.ts: elaboration — a checked model, its resolved config and batch sizes → an IR Graph with
// named parameters. Inputs become `input` nodes, params `param` nodes named by dotted path, outputs,
// losses and the objective graph outputs. Returns diagnostics instead of throwing: every one it can.
import type * as A from "../dsl/ast.js";
import type { Checked } from "../dsl/check.js";
import { type Diagnostic, diag, hasErrors } from "../dsl/diagnostics.js";
import { DTYPES, type DType } from "./dtype.js";
import type { Graph } from "./ir.js";
import { Elaborator, type NodeOrigin, type ParamInfo, type RepeatRecord, type ScanRecord } from "./lower/eval.js";
import { ElabAbort, Env, UNKNOWN } from "./lower/values.js";

export type { NodeOrigin, ParamInfo, RepeatRecord, ScanRecord } from "./lower/eval.js";
export type { InitSpec } from "./lower/values.js";
export { initParam, initParams } from "./lower/init.js";

export interface ElaborateOptions {
  /** Sizes of the batch dims that inputs name, e.g. { B: 2, T: 16 }. */
  readonly batch?: Readonly<Record<string, number>>;
  /** Size for batch dims missing from `batch` (e.g. 2 for `--emit params`, where they cannot matter);
   *  without it a missing batch dim is an error (M3004). */
  readonly defaultBatch?: number;
}

export interface Elaborated {
  readonly graph: Graph;
  readonly params: readonly ParamInfo[];
  readonly paramCount: number;
  readonly inputs: readonly { name: string; dtype: DType; shape: readonly number[] }[];
  readonly outputs: readonly string[];
  readonly losses: readonly string[];
  readonly objective?: string;
  readonly generate?: { readonly input: string; readonly from: string; readonly until?: number };
  readonly config: Readonly<Record<string, number | boolean | string>>;
  /** node id → the source it was elaborated from (nodes built by the elaborator's builder) */
  readonly origins: ReadonlyMap<number, NodeOrigin>;
  /** the scans as unrolled (node id ranges of each step, carries, yields) */
  readonly scans: readonly ScanRecord[];
  /** the repeats as unrolled (node id ranges of each iteration) */
  readonly repeats: readonly RepeatRecord[];
}

export function elaborate(
  checked: Checked,
  opts: ElaborateOptions = {},
): { result?: Elaborated; diagnostics: Diagnostic[] } {
  const model = checked.model;
  if (!model || !checked.config) {
    const file = checked.programs[0]?.file ?? "<input>";
    return {
      diagnostics: [
        diag(
          "M2302",
          { file, start: 0, end: 0 },
          "the file declares no model to elaborate",
          "add `model Name { ... }` or compile a file that has one",
        ),
      ],
    };
  }
  const modules = new Map<string, A.ModuleDecl>();
  const interfaces = new Map<string, A.InterfaceDecl>();
  for (const p of checked.programs)
    for (const d of p.decls) {
      if (d.kind === "module") modules.set(d.name.name, d);
      if (d.kind === "interface") interfaces.set(d.name.name, d);
    }
  const el = new Elaborator(modules, interfaces, opts.batch ?? {}, model.span.file, opts.defaultBatch);
  const diagnostics: Diagnostic[] = [];
  const result = run(el, model, checked, diagnostics);
  return diagnostics.length > 0 ? { diagnostics } : { result, diagnostics };
}

/** Elaborates each config entry and model statement in turn. One that fails adds its diagnostic and
 *  binds what it would have bound to UNKNOWN, so the next still runs (one error does not hide the
 *  next, as in the checker) while statements that read the failed value end without a second error. */
function run(el: Elaborator, model: A.ModelDecl, checked: Checked, diagnostics: Diagnostic[]): Elaborated | undefined {
  const env = new Env(undefined, "");
  const attempt = (binds: readonly string[], f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof ElabAbort)) throw e;
      const d = e.diagnostic;
      if (d && !diagnostics.some((o) => sameDiagnostic(o, d))) diagnostics.push(d);
      el.unwind();
      for (const name of binds) env.define(name, UNKNOWN);
    }
  };
  const config: Record<string, number | boolean | string> = {};
  for (const e of checked.config!.entries) {
    attempt([e.name], () => {
      el.span = e.value.span;
      // An interface-typed value is constructed here, so its params live under the key (`combiner.*`).
      const v = el.expr(e.value, env, e.name);
      env.define(e.name, v);
      config[e.name] =
        v.k === "int" || v.k === "float" || v.k === "bool"
          ? v.v
          : v.k === "instance"
            ? v.decl.name.name
            : v.k === "dtype"
              ? v.dtype
              : v.k;
    });
  }
  const inputs: Elaborated["inputs"][number][] = [];
  const outputs: string[] = [];
  const losses: string[] = [];
  let objective: string | undefined;
  let generate: Elaborated["generate"];
  for (const s of model.body.stmts) {
    if (el.exhausted) break;
    attempt(bindings(s, env), () => statement(s));
  }
  function statement(s: A.Stmt): void {
    el.span = s.span;
    switch (s.kind) {
      case "input": {
        const shape = (s.type.dims ?? []).map((d) =>
          d.kind === "rest" ? el.fail("M3004", "a model input cannot have '...' dims") : inputDim(el, d, env),
        );
        const dtype = DTYPES.find((t) => t === s.type.name.name) ?? "f32";
        env.define(s.name.name, { k: "tensor", node: el.graph.input(s.name.name, dtype, shape) });
        inputs.push({ name: s.name.name, dtype, shape });
        break;
      }
      case "output":
      case "loss": {
        const node = el.lower.tensor(el.expr(s.value, env), s.kind);
        env.define(s.name.name, { k: "tensor", node });
        el.guard(() => el.graph.output(s.name.name, node));
        (s.kind === "loss" ? losses : outputs).push(s.name.name);
        break;
      }
      case "objective": {
        const node = el.lower.tensor(el.expr(s.value, env), "the objective");
        objective = losses.includes("objective") || outputs.includes("objective") ? "objective_" : "objective";
        el.guard(() => el.graph.output(objective!, node));
        break;
      }
      case "generate": {
        const until = s.until ? el.lower.int(el.expr(s.until, env), "the stop token") : undefined;
        generate = { input: s.input.name, from: s.from.name, until };
        break;
      }
      case "config":
      case "preset":
        break;
      default:
        el.block([s], env);
    }
  }
  if (diagnostics.length > 0) return undefined;
  const paramCount = el.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  return {
    graph: el.graph.build(),
    params: el.params,
    paramCount,
    inputs,
    outputs,
    losses,
    objective,
    generate,
    config,
    origins: el.origins,
    scans: el.scans,
    repeats: el.repeats,
  };
}

/** An instance called from two statements fails the same way in both: report it once. */
const sameDiagnostic = (a: Diagnostic, b: Diagnostic): boolean =>
  a.code === b.code && a.message === b.message && a.span.file === b.span.file && a.span.start === b.span.start;

/** The names a model statement binds: an input's batch dims it would define, and for a repeat block
 *  the outer names its body assigns (left half-updated when the block fails part way). */
function bindings(s: A.Stmt, env: Env): string[] {
  switch (s.kind) {
    case "input":
      // batch dims are defined by the first input that names them
      const unbound = (s.type.dims ?? []).flatMap((d) => (d.kind === "name" && !env.get(d.name) ? [d.name] : []));
      return [s.name.name, ...unbound];
    case "output":
    case "loss":
    case "let":
    case "assign":
    case "param":
      return [s.name.name];
    case "repeat":
      return s.body.stmts.flatMap((b) =>
        b.kind === "assign" ? [b.name.name] : b.kind === "repeat" ? bindings(b, env) : [],
      );
    default:
      return [];
  }
}

/** An input's dim: a config value, or a batch size bound by the caller (defined for later use). */
function inputDim(el: Elaborator, d: A.Expr, env: Env): number {
  if (d.kind === "name" && !env.get(d.name)) {
    const v = el.batch[d.name] ?? el.defaultBatch;
    if (v === undefined)
      el.fail(
        "M3004",
        `batch dimension '${d.name}' has no size`,
        `bind it, e.g. { ${d.name}: 8 } (CLI: --batch ${d.name}=8)`,
      );
    if (!Number.isInteger(v) || v < 1) el.fail("M3005", `batch dimension '${d.name}' = ${v} is not a whole number ≥ 1`);
    env.define(d.name, { k: "int", v });
  }
  return el.dim(d, env);
}

export { hasErrors };
