// mira.ts (bench/peers): the peer workloads in mira — the block written in .mira with std.nn's
// TransformerBlock, elaborated, differentiated by compiler/grad.ts, compiled by compileGraph and run by
// the Executor (one submit per run); the elementwise kernel built with GraphBuilder.
import { join } from "node:path";
import { modelFromSource } from "../../api/model.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { grad, gradName } from "../../compiler/grad.js";
import type { Graph } from "../../compiler/ir.js";
import { binary } from "../../compiler/ops/helpers.js";
import { type Program, compileGraph } from "../../compiler/program.js";
import type { Gpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { BLOCK, ELEMENTWISE, GRAD_NAMES, type PeerEngine, type Values } from "./workload.js";

const BLOCK_SOURCE = `// The peer benchmark's block: one std.nn TransformerBlock, loss = mean of its output.
import std.nn

model PeerBlock {
  config { d: int = ${BLOCK.D}, heads: int = ${BLOCK.HEADS} }
  input x: f32[B, T, d]
  let block = TransformerBlock(d, heads)
  output y = block(x, mask: causal)
  loss mean_y = mean(y)
  objective = mean_y
}
`;

/** mira's parameter names → the short names of workload.ts */
const NAMES: Readonly<Record<string, string>> = {
  "block.ln1.gamma": "ln1_g",
  "block.ln1.beta": "ln1_b",
  "block.attn.wq.w": "wq",
  "block.attn.wq.b": "bq",
  "block.attn.wk.w": "wk",
  "block.attn.wk.b": "bk",
  "block.attn.wv.w": "wv",
  "block.attn.wv.b": "bv",
  "block.attn.wo.w": "wo",
  "block.attn.wo.b": "bo",
  "block.ln2.gamma": "ln2_g",
  "block.ln2.beta": "ln2_b",
  "block.mlp.up.w": "w1",
  "block.mlp.up.b": "b1",
  "block.mlp.down.w": "w2",
  "block.mlp.down.b": "b2",
  x: "x",
};

export interface MiraGraphs {
  /** outputs y and mean_y */
  readonly forward: Graph;
  /** outputs mean_y and grad:<mira name> for every parameter and x */
  readonly forwardBackward: Graph;
  /** forward + backward with y too: what the CPU reference evaluates */
  readonly reference: Graph;
  readonly elementwise: Graph;
  /** y = x·a over the elementwise workload's x: the same bytes read and written with no arithmetic to
   *  speak of, the memory ceiling the elementwise kernel is measured against */
  readonly scale: Graph;
  /** mira name → short name */
  readonly names: Readonly<Record<string, string>>;
}

export function miraGraphs(): MiraGraphs {
  // a virtual path under models/, so `import std.nn` resolves as in any model file
  const model = modelFromSource(BLOCK_SOURCE, join(import.meta.dirname, "..", "..", "models", "bench_peer_block.mira"));
  const el = model.elaborate({ B: BLOCK.B, T: BLOCK.T });
  for (const p of el.params) if (!NAMES[p.name]) throw new Error(`bench/peers: unexpected parameter ${p.name}`);
  // The gradient w.r.t. the input too: grad() differentiates params, so x becomes one.
  const withXParam: Graph = {
    ...el.graph,
    nodes: el.graph.nodes.map((n) => (n.op === "input" && n.attrs.name === "x" ? { ...n, op: "param" } : n)),
  };
  const lossOnly: Graph = { ...withXParam, outputs: withXParam.outputs.filter((o) => o.name === "mean_y") };

  const b = new GraphBuilder();
  const x = b.input("x", "f32", [ELEMENTWISE.N]);
  const [a, bb, c] = ["a", "b", "c"].map((n) => b.input(n, "f32", []));
  const y = binary(b, "mul", b.add("gelu", [binary(b, "add", binary(b, "mul", x, a), bb)]), c);
  b.output("y", y);
  b.output("y0", b.add("slice", [y], { starts: [0], ends: [1] }));

  const c2 = new GraphBuilder();
  const x2 = c2.input("x", "f32", [ELEMENTWISE.N]);
  const scaled = binary(c2, "mul", x2, c2.input("a", "f32", []));
  c2.output("y", scaled);
  c2.output("y0", c2.add("slice", [scaled], { starts: [0], ends: [1] }));

  return {
    forward: el.graph,
    forwardBackward: grad(lossOnly, "mean_y"),
    reference: grad(withXParam, "mean_y"),
    elementwise: b.build(),
    scale: c2.build(),
    names: NAMES,
  };
}

/** Feeds by mira name from values by short name. */
export function miraFeeds(values: Values): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(NAMES).map(([mira, short]) => [mira, values[short]]));
}

export interface MiraEngine extends PeerEngine {
  readonly programs: { readonly forward: Program; readonly forwardBackward: Program; readonly elementwise: Program };
  /** y = x·a (MiraGraphs.scale); resolves with y[0] */
  scale(): Promise<number>;
}

export async function createMira(gpu: Gpu, graphs: MiraGraphs, values: Values, x: Float32Array): Promise<MiraEngine> {
  const programs = {
    forward: compileGraph(graphs.forward, gpu.limits),
    forwardBackward: compileGraph(graphs.forwardBackward, gpu.limits),
    elementwise: compileGraph(graphs.elementwise, gpu.limits),
  };
  const [fwd, fb, ew, sc] = await Promise.all(
    [programs.forward, programs.forwardBackward, programs.elementwise, compileGraph(graphs.scale, gpu.limits)].map(
      (p) => Executor.create(gpu, p),
    ),
  );
  const feeds = miraFeeds(values);
  for (const [name, v] of Object.entries(feeds)) {
    fwd.write(name, v);
    fb.write(name, v);
  }
  ew.write("x", x);
  ew.write("a", [ELEMENTWISE.a]);
  ew.write("b", [ELEMENTWISE.b]);
  ew.write("c", [ELEMENTWISE.c]);
  sc.write("x", x);
  sc.write("a", [ELEMENTWISE.a]);
  const byShort = Object.fromEntries(Object.entries(NAMES).map(([mira, short]) => [short, mira]));
  return {
    name: "mira",
    programs,
    knownDispatches: {
      forward: programs.forward.dispatches.length,
      forwardBackward: programs.forwardBackward.dispatches.length,
      elementwise: programs.elementwise.dispatches.length,
    },
    forward: async () => (await fwd.run(["mean_y"])).mean_y[0],
    forwardBackward: async () => (await fb.run(["mean_y"])).mean_y[0],
    elementwise: async () => (await ew.run(["y0"])).y0[0],
    scale: async () => (await sc.run(["y0"])).y0[0],
    async blockResults() {
      const f = await fwd.run(["y", "mean_y"]);
      const g = await fb.run(["mean_y", ...GRAD_NAMES.map((n) => gradName(byShort[n]))]);
      const grads = Object.fromEntries(GRAD_NAMES.map((n) => [n, Float32Array.from(g[gradName(byShort[n])])]));
      return { y: Float32Array.from(f.y), loss: f.mean_y[0], grads };
    },
    elementwiseResult: async () => Float32Array.from((await ew.run(["y"])).y),
    dispose() {
      for (const e of [fwd, fb, ew, sc]) e.destroy();
    },
  };
}
