// matmul.ts (bench): GFLOP/s of the compiler's own matmul kernels (the same compileGraph → Executor
// path models use) for square, odd, batched, transposed and attention-like shapes, both variants.
import { GraphBuilder } from "../compiler/builder.js";
import { compileGraph } from "../compiler/program.js";
import { runReference } from "../compiler/reference.js";
import type { MatmulVariant } from "../compiler/wgsl/matmul.js";
import type { Gpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { Table, pseudoValues, time } from "./harness.js";

export interface MatmulCase {
  readonly label: string;
  readonly a: number[];
  readonly b: number[];
  readonly transA?: boolean;
  readonly transB?: boolean;
}

export const MATMUL_CASES: readonly MatmulCase[] = [
  ...[128, 256, 512, 1000, 1023, 1024].map((n) => ({ label: `${n}×${n}×${n}`, a: [n, n], b: [n, n] })),
  { label: "batched 8×(256×256×256)", a: [8, 256, 256], b: [8, 256, 256] },
  { label: "1024×1024×1024 Bᵀ", a: [1024, 1024], b: [1024, 1024], transB: true },
  { label: "1024×1024×1024 Aᵀ", a: [1024, 1024], b: [1024, 1024], transA: true },
  { label: "attention q·kᵀ 32×(128×128, K=32)", a: [32, 128, 32], b: [32, 128, 32], transB: true },
  { label: "attention p·v 32×(128×32, K=128)", a: [32, 128, 128], b: [32, 128, 32] },
];

/**
 * Other engines' matmul figures, quoted, never measured by this run: the developers' guide gives them at one
 * size, for the adapter it names, and they entered the report on 2026-11-25. They sit in a column of their own, on the
 * row of their size, so that nobody reads them as this machine's. (bench/peers/ does measure jax-js and
 * tfjs-webgpu in the run, on a transformer block and an elementwise kernel, not on a matmul.)
 */
export const QUOTED_PEERS = {
  label: "1024×1024×1024",
  source: "developers' guide, quoted 2026-11-25, not measured here",
  figures: "hand-written WGSL ≈ 9.2 · jax-js (jit) 4.7 · tfjs-webgpu 3.8 · naive < 1.7",
} as const;

export async function benchMatmul(
  gpu: Gpu,
  variants: readonly MatmulVariant[],
  cases = MATMUL_CASES,
  title = "matmul (f32)",
): Promise<Table> {
  const quoted = `peers' GFLOP/s, quoted (${QUOTED_PEERS.source})`;
  const table = new Table(title, ["shape", "variant", "median ms", "GFLOP/s", "max abs error vs reference", quoted]);
  for (const c of cases) {
    const b = new GraphBuilder();
    const x = b.input("a", "f32", c.a);
    const y = b.input("b", "f32", c.b);
    const out = b.add("matmul", [x, y], { transA: c.transA, transB: c.transB });
    b.output("c", out);
    const g = b.build();
    const [m, n] = out.shape.slice(-2);
    const k = c.transA ? c.a[c.a.length - 2] : c.a[c.a.length - 1];
    const batch = out.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const flops = 2 * batch * m * n * k;
    const av = pseudoValues(
      c.a.reduce((p, d) => p * d, 1),
      1,
    );
    const bv = pseudoValues(
      c.b.reduce((p, d) => p * d, 1),
      2,
    );
    // Checked once against the reference on a small corner: full references of N=1024 take minutes.
    for (const variant of variants) {
      const ex = await Executor.create(gpu, compileGraph(g, gpu.limits, { matmul: variant }));
      ex.write("a", av);
      ex.write("b", bv);
      const res = await ex.run();
      const err =
        flops <= 2 * 300 ** 3
          ? maxErr(res.c, runReference(g, { a: av, b: bv }).c.data)
          : spotCheck(res.c, av, bv, c, m, n, k);
      const t = await time(() => ex.run([]).then(() => ex.sync()), { warmup: 1, runs: 5 });
      const peers = c.label === QUOTED_PEERS.label ? QUOTED_PEERS.figures : "";
      table.add([c.label, variant, t.medianMs, flops / t.medianMs / 1e6, err.toExponential(1), peers]);
      ex.destroy();
    }
  }
  return table;
}

function maxErr(got: Float64Array, ref: Float64Array): number {
  let e = 0;
  for (let i = 0; i < ref.length; i++) e = Math.max(e, Math.abs(got[i] - ref[i]));
  return e;
}

/** Recomputes 64 output entries of the first batch in float64. */
function spotCheck(
  got: Float64Array,
  a: Float32Array,
  b: Float32Array,
  c: MatmulCase,
  m: number,
  n: number,
  k: number,
): number {
  let e = 0;
  for (let s = 0; s < 64; s++) {
    const i = (s * 7919) % m;
    const j = (s * 104729) % n;
    let acc = 0;
    for (let p = 0; p < k; p++) acc += a[c.transA ? p * m + i : i * k + p] * b[c.transB ? j * k + p : p * n + j];
    e = Math.max(e, Math.abs(got[i * n + j] - acc));
  }
  return e;
}
