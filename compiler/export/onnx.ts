// onnx.ts: a model's inference graph as an ONNX file — the declared outputs (logits …; not the losses),
// pruned to what they need. Batch dims that symbolic.ts found are symbolic in the file (dim_param "B",
// sizes computed from the inputs' shapes), so it runs at any batch size; otherwise the shapes are the
// ones the model was elaborated for. Inputs keep mira's names, the parameters are initializers under
// mira's dotted names, and every node's doc string names the .mira line it came from. Written by our
// own protobuf encoder (no Python or protobuf package needed).
import { type Graph, type Node, pruneGraph } from "../ir.js";
import type { DType } from "../dtype.js";
import { type DimSource, OnnxDims } from "./onnx-dims.js";
import { OnnxGraph, onnxTypeOf } from "./onnx-graph.js";
import { ONNX_OPS, type OnnxContext, type OnnxRule } from "./onnx-ops.js";
import { type ExportSource, ExportError, originText, requireMappings, ruleOf } from "./source.js";
import { type SymbolicGraph, isConstant, staticGraph, symText } from "./symbolic.js";

/** Each dynamic dim's first input axis of exactly that size; undefined when one has none. */
function dimSources(sym: SymbolicGraph, graph: Graph): Map<string, DimSource> | undefined {
  const out = new Map<string, DimSource>();
  for (const d of sym.dynamic) {
    for (const n of graph.nodes.filter((m) => m.op === "input")) {
      const axis = sym
        .shape(n)
        .findIndex(
          (s) => !isConstant(s) && s.length === 1 && s[0].coef === 1 && s[0].dims.length === 1 && s[0].dims[0] === d,
        );
      if (axis >= 0) {
        out.set(d, { input: n.attrs.name!, axis });
        break;
      }
    }
    if (!out.has(d)) return undefined;
  }
  return out;
}

/** The graph with only the declared outputs (falling back to every output when none is declared). */
export function inferenceGraph(src: ExportSource): Graph {
  const g = src.sym.graph;
  const keep = g.outputs.filter((o) => src.outputs.includes(o.name));
  const pruned = pruneGraph({ nodes: g.nodes, outputs: keep.length ? keep : g.outputs });
  const live = new Set<number>(pruned.outputs.map((o) => o.id));
  for (let i = pruned.nodes.length - 1; i >= 0; i--)
    if (live.has(pruned.nodes[i].id)) for (const j of pruned.nodes[i].inputs) live.add(j);
  // pruneGraph keeps every input and param; drop the ones the outputs do not read.
  return { nodes: pruned.nodes.filter((n) => live.has(n.id)), outputs: pruned.outputs };
}

/** A parameter's stored value: little-endian bytes of its dtype (runtime/checkpoint.ts StoredTensor). */
export interface Weight {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

export interface OnnxModel {
  readonly bytes: Uint8Array;
  /** batch dims that are symbolic in the file; the others are fixed at the export's sizes */
  readonly dynamic: readonly string[];
}

const onnxRule = (op: string): OnnxRule | undefined => ruleOf<OnnxRule>(ONNX_OPS, op);

export function generateOnnx(src: ExportSource, weights: ReadonlyMap<string, Weight>): OnnxModel {
  const graph = inferenceGraph(src);
  requireMappings({ ...src, sym: { ...src.sym, graph } }, "onnx", (op) => onnxRule(op) !== undefined);
  const bytes = [...weights.values()].reduce((s, w) => s + w.bytes.byteLength, 0);
  // One protobuf message holds at most 2 GiB; larger models need ONNX's external data files.
  if (bytes > 2 ** 31 - 2 ** 24)
    throw new ExportError(
      `cannot export ${src.name} to onnx: its weights are ${(bytes / 2 ** 30).toFixed(1)} GiB, ` +
        "past the 2 GiB an ONNX file holds without external data (not written yet)",
    );
  const g = new OnnxGraph();
  // Dims that no input carries whole cannot be read at run time: the file is then static.
  const found = dimSources(src.sym, graph);
  const sym = found ? src.sym : staticGraph(src.sym.graph, src.sym.base);
  const dims = new OnnxDims(g, found ?? new Map());
  const dimsOf = (n: Node): (number | string)[] => sym.shape(n).map((s) => (isConstant(s) ? s : symText(s)));
  const names = new Map<number, string>();
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  for (const n of graph.nodes) {
    if (n.op === "input") {
      g.input(n.attrs.name!, onnxTypeOf(n.dtype), dimsOf(n));
      names.set(n.id, n.attrs.name!);
      continue;
    }
    if (n.op === "param") {
      const w = weights.get(n.attrs.name!);
      if (!w) throw new ExportError(`no weights for parameter '${n.attrs.name}'`);
      names.set(n.id, g.raw(n.attrs.name!, onnxTypeOf(w.dtype), w.shape, w.bytes));
      continue;
    }
    g.stem = `${n.op}_${n.id}`;
    g.doc = `${n.op}${originText(src, n) ? ` · ${originText(src, n)}` : ""}`;
    const inputs = n.inputs.map((i) => byId.get(i)!);
    const ctx: OnnxContext = {
      g,
      node: n,
      inputs,
      args: n.inputs.map((i) => names.get(i)!),
      attr: (key) => sym.attr(n, key),
      shape: (m) => sym.shape(m),
      dims,
    };
    names.set(n.id, onnxRule(n.op)!(ctx));
  }
  g.stem = "output";
  g.doc = undefined;
  for (const o of graph.outputs) {
    const n = byId.get(o.id)!;
    g.node("Identity", [names.get(o.id)!], {}, o.name);
    g.output(o.name, onnxTypeOf(n.dtype), dimsOf(n));
  }
  const sizes = Object.entries(src.sym.base)
    .filter(([k]) => !sym.dynamic.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  const batch = [
    sym.dynamic.length ? `batch dims ${sym.dynamic.join(", ")} symbolic` : "",
    sizes ? `fixed ${sizes}` : "",
  ]
    .filter(Boolean)
    .join("; ");
  const doc =
    `${src.name} from ${src.model.path}${src.model.preset ? ` (preset ${src.model.preset})` : ""}` +
    `${src.model.set.map((s) => ` --set ${s}`).join("")}${batch ? `, ${batch}` : ""}; ` +
    `exported by mira (source sha256 ${src.model.sourceHash})`;
  return { bytes: g.encode(src.name, doc), dynamic: sym.dynamic };
}
