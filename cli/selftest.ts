// selftest.ts: a small program run on the device and compared with the CPU reference — the proof
// `mira doctor` and the demo give that kernels really run here. Deterministic inputs.
import { GraphBuilder } from "../compiler/builder.js";
import type { Graph } from "../compiler/ir.js";
import { binary } from "../compiler/ops/helpers.js";
import { compileGraph } from "../compiler/program.js";
import { runReference } from "../compiler/reference.js";
import { prod } from "../compiler/shape.js";
import type { Gpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly maxError: number;
  readonly tolerance: number;
}

/** Chains of a few f32 ops (matmul → gelu → layer norm) accumulate a few ulps each; f16 storage keeps
 *  11 significant bits. */
const F32_CHAIN = { atol: 1e-4, rtol: 1e-4 };
const F16_CHAIN = { atol: 1e-3, rtol: 1e-3 };

function wave(n: number, phase: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase) * 0.8);
}

/** Each case: a named output of one graph, with the tolerance of its last op. */
function selfTestGraph(f16: boolean): {
  graph: Graph;
  feeds: Record<string, number[]>;
  checks: { output: string; op: string }[];
} {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [7, 37]);
  const w = b.param("w", "f32", [37, 53]);
  const bias = b.param("bias", "f32", [53]);
  const h = b.add("gelu", [binary(b, "add", b.add("matmul", [x, w]), bias)]);
  b.output("matmul_bias_gelu", h);
  const g = b.param("gamma", "f32", [53]);
  const beta = b.param("beta", "f32", [53]);
  b.output("layer_norm", b.add("layer_norm", [h, g, beta], { eps: 1e-5 }));
  b.output("softmax", b.add("softmax", [h], { axis: -1 }));
  const q = b.add("reshape", [b.add("slice", [h], { starts: [0, 0], ends: [6, 48], steps: [1, 1] })], {
    shape: [1, 2, 6, 24],
  });
  b.output("attention_causal", b.add("attention", [q, q, q], { mask: { kind: "causal" } }));
  b.output("reduce_sum", b.add("reduce_sum", [h], { axes: [0] }));
  const checks = ["matmul_bias_gelu", "layer_norm", "softmax", "attention_causal", "reduce_sum"].map((o) => ({
    output: o,
    op: o === "matmul_bias_gelu" ? "matmul" : o.replace("_causal", ""),
  }));
  if (f16) {
    b.output("cast_f16", b.add("cast", [b.add("cast", [h], { dtype: "f16" })], { dtype: "f32" }));
    checks.push({ output: "cast_f16", op: "cast_f16" });
  }
  return {
    graph: b.build(),
    feeds: { x: wave(7 * 37, 0), w: wave(37 * 53, 1), bias: wave(53, 2), gamma: wave(53, 3), beta: wave(53, 4) },
    checks,
  };
}

export async function runSelfTest(gpu: Gpu): Promise<CheckResult[]> {
  const { graph, feeds, checks } = selfTestGraph(gpu.limits.shaderF16);
  const ex = await Executor.create(gpu, compileGraph(graph, gpu.limits));
  try {
    for (const [name, values] of Object.entries(feeds)) ex.write(name, values);
    const got = await ex.run();
    const ref = runReference(graph, feeds);
    return checks.map(({ output, op }) => {
      const tol = op === "cast_f16" ? F16_CHAIN : F32_CHAIN;
      let maxError = 0;
      let ok = true;
      const r = ref[output].data;
      for (let i = 0; i < prod(ref[output].shape); i++) {
        const e = Math.abs(got[output][i] - r[i]);
        maxError = Math.max(maxError, e);
        if (!(e <= tol.atol + tol.rtol * Math.abs(r[i]))) ok = false;
      }
      return { name: output, ok, maxError, tolerance: tol.atol };
    });
  } finally {
    ex.destroy();
  }
}
