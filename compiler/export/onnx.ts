// onnx.ts: a model's inference graph as an ONNX file — the declared outputs (logits …; not the losses),
// pruned to what they need, at the batch sizes it was elaborated for. Inputs keep mira's names, the
// parameters are initializers under mira's dotted names, and every node's doc string names the .mira
// line it came from. Written by our own protobuf encoder (no Python or protobuf package needed).
import { type Graph, pruneGraph } from "../ir.js";
import type { DType } from "../dtype.js";
import { OnnxGraph, onnxTypeOf } from "./onnx-graph.js";
import { ONNX_OPS, type OnnxContext } from "./onnx-ops.js";
import { type ExportSource, ExportError, originText, requireMappings } from "./source.js";

/** The graph with only the declared outputs (falling back to every output when none is declared). */
export function inferenceGraph(src: ExportSource): Graph {
  const g = src.sym.graph;
  const keep = g.outputs.filter((o) => src.outputs.includes(o.name));
  const pruned = pruneGraph({ nodes: g.nodes, outputs: keep.length ? keep : g.outputs });
  const live = new Set<number>(pruned.outputs.map((o) => o.id));
  for (let i = pruned.nodes.length - 1; i >= 0; i--) if (live.has(pruned.nodes[i].id)) for (const j of pruned.nodes[i].inputs) live.add(j);
  // pruneGraph keeps every input and param; drop the ones the outputs do not read.
  return { nodes: pruned.nodes.filter((n) => live.has(n.id)), outputs: pruned.outputs };
}

/** A parameter's stored value: little-endian bytes of its dtype (runtime/checkpoint.ts StoredTensor). */
export interface Weight {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

export function generateOnnx(src: ExportSource, weights: ReadonlyMap<string, Weight>): Uint8Array {
  const graph = inferenceGraph(src);
  requireMappings({ ...src, sym: { ...src.sym, graph } }, "onnx", (op) => ONNX_OPS[op] !== undefined);
  const bytes = [...weights.values()].reduce((s, w) => s + w.bytes.byteLength, 0);
  // One protobuf message holds at most 2 GiB; larger models need ONNX's external data files.
  if (bytes > 2 ** 31 - 2 ** 24) throw new ExportError(`cannot export ${src.name} to onnx: its weights are ${(bytes / 2 ** 30).toFixed(1)} GiB, past the 2 GiB an ONNX file holds without external data (not written yet)`);
  const g = new OnnxGraph();
  const names = new Map<number, string>();
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  for (const n of graph.nodes) {
    if (n.op === "input") {
      g.input(n.attrs.name!, onnxTypeOf(n.dtype), n.shape);
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
    const ctx: OnnxContext = { g, node: n, inputs, args: n.inputs.map((i) => names.get(i)!) };
    names.set(n.id, ONNX_OPS[n.op]!(ctx));
  }
  g.stem = "output";
  g.doc = undefined;
  for (const o of graph.outputs) {
    const n = byId.get(o.id)!;
    g.node("Identity", [names.get(o.id)!], {}, o.name);
    g.output(o.name, onnxTypeOf(n.dtype), n.shape);
  }
  const sizes = Object.entries(src.sym.base).map(([k, v]) => `${k}=${v}`).join(", ");
  const doc = `${src.name} from ${src.model.path}${src.model.preset ? ` (preset ${src.model.preset})` : ""}${src.model.set.map((s) => ` --set ${s}`).join("")}, batch ${sizes || "none"}; exported by mira (source sha256 ${src.model.sourceHash})`;
  return g.encode(src.name, doc);
}
