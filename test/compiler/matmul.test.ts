// matmul.test.ts: batched matmul on the GPU against the reference, in all three kernel variants ("registers", "packed"
// and "shared"), with transA/transB, broadcast batch dims, odd and prime sizes, K = 1, f32 and f16; a fused
// bias + gelu epilogue in both dtypes.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DTYPES, type DType } from "../../compiler/dtype.js";
import { accepts, expectGpuMatchesReference, gridValues, prng, runs, seedArb, singleOp } from "./gen.js";
import { prod } from "../../compiler/shape.js";
import { kernelMatmulDims } from "../../compiler/ops/linalg.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { compileGraph } from "../../compiler/program.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { binary } from "../../compiler/ops/helpers.js";

const VARIANTS = ["registers", "shared", "packed"] as const;
const DTYPES_OK = DTYPES.filter((d) =>
  accepts("matmul", [
    { dtype: d, shape: [2, 2] },
    { dtype: d, shape: [2, 2] },
  ]),
);

// Sizes: 1, primes, odd, a tile (64) and around tile and vector boundaries (4, 8, 32, 33, 65).
const size = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 13, 31, 32, 33, 64, 65, 97);
const kSize = fc.oneof(fc.constant(1), size, fc.constantFrom(128, 257));

const caseArb = fc
  .record({
    m: size,
    n: size,
    k: kSize,
    transA: fc.boolean(),
    transB: fc.boolean(),
    // The output batch, and for each operand how many leading axes it drops and which it keeps as 1.
    batch: fc.array(fc.constantFrom(1, 2, 3, 5), { maxLength: 3 }),
    dropA: fc.nat({ max: 3 }),
    dropB: fc.nat({ max: 3 }),
    onesA: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    onesB: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    seed: seedArb,
  })
  .filter((c) => prod(c.batch) * c.m * c.n * c.k <= 1_500_000);

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function shapes(c: Case): [number[], number[]] {
  const batchOf = (drop: number, ones: boolean[]) =>
    c.batch.slice(Math.min(drop, c.batch.length)).map((d, i) => (ones[i] ? 1 : d));
  const a = [...batchOf(c.dropA, c.onesA), ...(c.transA ? [c.k, c.m] : [c.m, c.k])];
  const b = [...batchOf(c.dropB, c.onesB), ...(c.transB ? [c.n, c.k] : [c.k, c.n])];
  return [a, b];
}

/** `variant` undefined: the adapter's default, with its workgroup fitted to C (compiler/autotune.ts). */
async function check(c: Case, dtype: DType, variant?: (typeof VARIANTS)[number]): Promise<void> {
  const [sa, sb] = shapes(c);
  const g = singleOp(
    "matmul",
    [
      { dtype, shape: sa },
      { dtype, shape: sb },
    ],
    { transA: c.transA, transB: c.transB },
  );
  const r = prng(c.seed);
  // A dyadic grid keeps every partial sum exact in f32, so any order of accumulation matches (gen.ts).
  await expectGpuMatchesReference(
    g,
    { x0: gridValues(r, dtype, prod(sa), 4, 1), x1: gridValues(r, dtype, prod(sb), 4, 1) },
    variant ? { matmul: variant } : {},
  );
}

describe("matmul matches the reference", () => {
  const cases = VARIANTS.flatMap((v) => DTYPES_OK.map((d) => [v, d] as [(typeof VARIANTS)[number], DType]));
  test.each(cases)("%s variant, %s", async (variant, dtype) => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => check(c, dtype, variant)),
      // Every new shape is a new shader, and llvmpipe compiles one in 0.3–0.9 s: runs are few.
      { numRuns: runs((dtype === "f32" ? 10 : 4) * (variant === "registers" ? 1 : 0.7)) },
    );
  });

  test.each(VARIANTS)("%s variant: K = 1 and 1×N, M×1 outputs", async (variant) => {
    await fc.assert(
      fc.asyncProperty(
        caseArb.map((c) => ({ ...c, k: 1 as const })),
        fc.constantFrom("m", "n", "none"),
        async (c, one) => {
          await check({ ...c, m: one === "m" ? 1 : c.m, n: one === "n" ? 1 : c.n }, "f32", variant);
        },
      ),
      { numRuns: runs(4) },
    );
  });
  // A decoding step's matmuls have one row: the register kernel then computes one row per thread, and the
  // default workgroup is one row of threads along N.
  test("the default kernel on one-row and one-column outputs, every layout, K multiple of 4 or not", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.boolean(), async (c, row) => {
        await check({ ...c, m: row ? 1 : c.m, n: row ? c.n : 1 }, "f32");
      }),
      { numRuns: runs(8) },
    );
  });
});

describe("a batch against one shared B runs as one tall matrix", () => {
  const t = (shape: number[]) => ({ dtype: "f32" as const, shape });
  test("which products fold", () => {
    expect(kernelMatmulDims(t([6, 5, 4, 32]), t([32, 13]), {})).toEqual({ batch: [], m: 120, n: 13, k: 32 });
    expect(kernelMatmulDims(t([6, 4, 32]), t([1, 13, 32]), { transB: true })).toEqual({
      batch: [],
      m: 24,
      n: 13,
      k: 32,
    });
    expect(kernelMatmulDims(t([1, 4, 32]), t([32, 13]), {})).toEqual({ batch: [], m: 4, n: 13, k: 32 });
    // B with more (size-1) batch axes than A: the output batch is A's with leading 1s, still one matrix each
    expect(kernelMatmulDims(t([3, 4, 32]), t([1, 1, 32, 13]), {})).toEqual({ batch: [], m: 12, n: 13, k: 32 });
    // Aᵀ's rows are strided; a batched B differs per matrix
    expect(kernelMatmulDims(t([6, 32, 4]), t([32, 13]), { transA: true }).batch).toEqual([6]);
    expect(kernelMatmulDims(t([6, 4, 32]), t([6, 32, 13]), {}).batch).toEqual([6]);
  });

  // Shared B (no batch axes, or all of size 1 — then possibly more of them than A has) with any transB;
  // A not transposed, with any of its batch axes: the folded path in each variant.
  const folded = caseArb.map((c) => ({
    ...c,
    transA: false,
    dropB: c.dropB % 2 === 0 ? 3 : 0,
    onesB: [true, true, true],
  }));
  test.each(VARIANTS)("%s variant", async (variant) => {
    await fc.assert(
      fc.asyncProperty(folded, async (c) => check(c, "f32", variant)),
      { numRuns: runs(4) },
    );
  });
});

describe("the register kernel's code stays small", () => {
  // llvmpipe compiles a kernel on its first dispatch, in time that grows with its code: with a block of
  // four k unrolled, a TTM step's kernels took about 1.4× as long to compile cold as with the forms below,
  // for no gain at run time. Counted, not timed: the K loop holds one k (8 vec4 FMAs), or with Bᵀ one
  // block of dots (32), or with Aᵀ and Bᵀ one k inside a loop over the block.
  const cpu = { ...DEFAULT_LIMITS, adapterKind: "cpu" as const };
  test.each([
    [false, false, 8, 0, false],
    [true, false, 8, 0, false],
    [false, true, 0, 32, false],
    [true, true, 8, 0, true],
  ])("transA %s, transB %s: %i FMAs and %i dots in the K loop", (transA, transB, fmas, dots, subLoop) => {
    const [m, n, k] = [32, 32, 64];
    const g = singleOp(
      "matmul",
      [
        { dtype: "f32", shape: transA ? [k, m] : [m, k] },
        { dtype: "f32", shape: transB ? [n, k] : [k, n] },
      ],
      { transA, transB },
    );
    const p = compileGraph(g, cpu, { matmul: "registers" });
    const code = p.kernels.find((x) => x.name.startsWith("matmul"))!.code;
    expect(code.match(/fma\(/g)?.length ?? 0).toBe(fmas);
    expect(code.match(/dot\(/g)?.length ?? 0).toBe(dots);
    expect(code.includes("for (var s = 0; s < 4")).toBe(subLoop);
  });
});

describe("an epilogue finishes the product in the matmul's kernel, in f32 and f16", () => {
  test.each(["f32", "f16"] as const)("%s: (A·B + bias) then gelu, one dispatch, as the reference", async (dtype) => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 5, 8, 13),
        fc.constantFrom(1, 7, 16),
        fc.constantFrom(3, 9, 33),
        fc.constantFrom(...VARIANTS),
        seedArb,
        async (m, k, n, variant, seed) => {
          const b = new GraphBuilder();
          const x = b.input("x", dtype, [m, k]);
          const w = b.input("w", dtype, [k, n]);
          const bias = b.input("bias", dtype, [n]);
          b.output("y", b.add("gelu", [binary(b, "add", b.add("matmul", [x, w]), bias)]));
          const g = b.build();
          const limits = { ...DEFAULT_LIMITS, shaderF16: true };
          expect(compileGraph(g, limits, { matmul: variant }).dispatches).toHaveLength(1);
          const r = prng(seed);
          const feeds = { x: gridValues(r, dtype, m * k, 4, 1), w: gridValues(r, dtype, k * n, 4, 1) };
          await expectGpuMatchesReference(g, { ...feeds, bias: gridValues(r, dtype, n, 4, 1) }, { matmul: variant });
        },
      ),
      { numRuns: runs(4) },
    );
  });
});
