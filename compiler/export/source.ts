// source.ts: what an exporter reads — an elaborated model seen symbolically (symbolic.ts), where it
// came from, and where each node was written — and the error an exporter raises for an op its target
// has no mapping for, naming the op and the .mira line that produced it.
import { type Sources, lineStarts, positionOf, shownFile } from "../../dsl/diagnostics.js";
import type { DType } from "../dtype.js";
import type { Node } from "../ir.js";
import type { InitSpec, NodeOrigin } from "../lower.js";
import type { SymbolicGraph } from "./symbolic.js";
import { MiraError } from "../../base/errors.js";

export interface ExportSource {
  /** the model's name in the .mira file, e.g. CharLM */
  readonly name: string;
  readonly sym: SymbolicGraph;
  /** with their initialiser, which a training script without mira's initial values draws from */
  readonly params: readonly {
    readonly name: string;
    readonly dtype: DType;
    readonly shape: readonly number[];
    readonly init?: InitSpec;
  }[];
  readonly inputs: readonly { readonly name: string; readonly dtype: DType; readonly shape: readonly number[] }[];
  readonly outputs: readonly string[];
  readonly losses: readonly string[];
  readonly objective?: string;
  readonly generate?: { readonly input: string; readonly from: string; readonly until?: number };
  readonly origins: ReadonlyMap<number, NodeOrigin>;
  readonly sources?: Sources;
  /** what a checkpoint's metadata says of the model: path, preset, overrides, source hash */
  readonly model: {
    readonly path: string;
    readonly preset?: string;
    readonly set: readonly string[];
    readonly sourceHash: string;
  };
  readonly config: Readonly<Record<string, number | boolean | string>>;
}

/** An op's entry in an exporter's table when it has no mapping there, with the reason. */
export interface NoMapping {
  readonly none: string;
}

export const noMapping = (reason: string): NoMapping => ({ none: reason });

/** Why an exporter maps none of the ops that never run in an exported graph, in its own words. */
export interface UnmappedReasons {
  /** input and param: the exported graph takes them in */
  readonly fed: string;
  readonly random: string;
  readonly gradient: string;
  readonly step: string;
}

/** The table entries no exporter maps: graph inputs, random streams, attention gradients and optimizer
 *  steps. Each exporter's table spreads these in, so a new op of these kinds is added in one place. */
export function unmappedOps(why: UnmappedReasons) {
  const fed = noMapping(why.fed);
  const random = noMapping(why.random);
  const gradient = noMapping(why.gradient);
  const step = noMapping(why.step);
  return {
    input: fed,
    param: fed,
    random_uniform: random,
    random_normal: random,
    attention_lse: gradient,
    attention_dq: gradient,
    attention_dkv: gradient,
    sum_squares: step,
    adamw: step,
  };
}

/** The rule of `op` in an exporter's table keyed by op name; undefined for no mapping or no such op. */
export function ruleOf<R extends (...args: never[]) => unknown>(
  table: Readonly<Record<string, R | NoMapping>>,
  op: string,
): R | undefined {
  const r = Object.hasOwn(table, op) ? table[op] : undefined;
  return typeof r === "function" ? r : undefined;
}

/** A model that the export target cannot express (an op without a mapping, weights past its size). */
export class ExportError extends MiraError {
  readonly kind = "failure";
  override name = "ExportError";
}

/** `file:line` of a node's source and the module it was elaborated in, e.g. `nn.mira:41 in Linear`. */
export function originText(src: Pick<ExportSource, "origins" | "sources">, n: Node): string {
  const o = src.origins.get(n.id);
  if (!o) return "";
  const text = src.sources?.get(o.span.file);
  const line = text === undefined ? undefined : positionOf(lineStarts(text), Math.min(o.span.start, text.length)).line;
  const where = `${shownFile(o.span.file)}${line ? `:${line}` : ""}`;
  const module = o.calls.at(-1)?.module;
  return module ? `${where} in ${module}` : where;
}

/** Fails naming every op of the graph that `has` lacks, with the line of its first use. */
export function requireMappings(src: ExportSource, target: string, has: (op: string) => boolean): void {
  const missing = new Map<string, Node>();
  for (const n of src.sym.graph.nodes)
    if (n.op !== "input" && n.op !== "param" && !has(n.op) && !missing.has(n.op)) missing.set(n.op, n);
  if (!missing.size) return;
  const list = [...missing.values()].map((n) => {
    const at = originText(src, n);
    return `'${n.op}'${at ? ` (at ${at})` : ""}`;
  });
  throw new ExportError(
    `cannot export ${src.name} to ${target}: ${missing.size === 1 ? "op" : "ops"} ${list.join(", ")} ` +
      `${missing.size === 1 ? "has" : "have"} no ${target} mapping (compiler/export/${target}-ops.ts)`,
  );
}
