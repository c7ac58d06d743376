// autotune.test.ts: the matmul tuning table (signatures, JSON round trip, lookup, corrupt tables), the
// candidate sets, and — on the GPU — every candidate configuration (each workgroup shape, the shared
// variant, split-K) against the CPU reference on drawn shapes: 1, primes and non-multiples of the tile,
// transposes, broadcast batch dims, with and without a fused epilogue. Values are on a dyadic grid
// (gen.ts gridValues), so sums are exact in any order and the stated matmul tolerance is met exactly.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  type MatmulConfig,
  type MatmulSignature,
  REGISTER_SHAPES,
  TableFormatError,
  type TuningTable,
  applicable,
  configLabel,
  defaultConfig,
  emptyTable,
  lookupMatmul,
  parseSignatureKey,
  parseTable,
  serializeTable,
  signatureKey,
  splitCandidates,
  tileCandidates,
  withEntries,
} from "../../compiler/autotune.js";
import { GraphBuilder } from "../../compiler/builder.js";
import type { DType } from "../../compiler/dtype.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { Executor } from "../../runtime/executor.js";
import { firstMismatch } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";
import { gridValues, prng, runs, seedArb, tolFor } from "./gen.js";

const CPU = { ...DEFAULT_LIMITS, adapterKind: "cpu" as const };

const sigArb: fc.Arbitrary<MatmulSignature> = fc.record({
  dtype: fc.constantFrom<DType>("f32", "f16", "i32"),
  transA: fc.boolean(),
  transB: fc.boolean(),
  batch: fc.integer({ min: 1, max: 64 }),
  m: fc.integer({ min: 1, max: 4096 }),
  n: fc.integer({ min: 1, max: 4096 }),
  k: fc.integer({ min: 1, max: 4096 }),
  epilogue: fc.boolean(),
});

const configArb: fc.Arbitrary<MatmulConfig> = fc.oneof(
  fc.record({
    variant: fc.constant("registers" as const),
    wx: fc.constantFrom(1, 2, 4, 8, 16),
    wy: fc.constantFrom(1, 2, 4, 8, 16),
    splitK: fc.constantFrom(1, 2, 4),
  }),
  fc.record({ variant: fc.constant("shared" as const), splitK: fc.constantFrom(1, 2) }),
  fc.record({ variant: fc.constant("packed" as const), splitK: fc.constantFrom(1, 2) }),
);

describe("tuning table", () => {
  test("signature keys round trip", () => {
    fc.assert(
      fc.property(sigArb, (s) => {
        expect(parseSignatureKey(signatureKey(s))).toEqual(s);
      }),
      { numRuns: runs(200) },
    );
    expect(
      signatureKey({ dtype: "f32", transA: true, transB: false, batch: 1, m: 32, n: 96, k: 1024, epilogue: false }),
    ).toBe("f32:tn:1x32x96x1024");
    for (const bad of [
      "",
      "f32:tn:1x32x96",
      "f64:nn:1x1x1x1",
      "f32:nn:0x1x1x1",
      "f32:xn:1x1x1x1",
      "f32:nn:1x1x1x1:bias",
    ])
      expect(parseSignatureKey(bad)).toBeUndefined();
  });

  test("tables round trip through their JSON text, and lookups find what applies", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(sigArb, configArb, fc.double({ min: 0, max: 1e4, noNaN: true })), { maxLength: 8 }),
        (rows) => {
          let t: TuningTable = emptyTable("adapter-x");
          for (const [s, config, ms] of rows)
            t = withEntries(t, { [signatureKey(s)]: { config, defaultMs: ms, bestMs: ms / 2 } });
          const back = parseTable(serializeTable(t));
          expect(back.adapter).toBe("adapter-x");
          expect(Object.keys(back.entries).sort()).toEqual(Object.keys(t.entries).sort());
          for (const [s] of rows) {
            const want = t.entries[signatureKey(s)].config;
            const got = lookupMatmul(back, s, CPU);
            if (applicable(want, s, CPU)) expect(configLabel(got!)).toBe(configLabel(want));
            else expect(got).toBeUndefined();
          }
        },
      ),
      { numRuns: runs(100) },
    );
  });

  test("a lookup ignores entries that cannot compile for the signature or the device", () => {
    const s: MatmulSignature = {
      dtype: "f32",
      transA: true,
      transB: false,
      batch: 1,
      m: 32,
      n: 96,
      k: 1000,
      epilogue: false,
    };
    const table = (config: MatmulConfig, sig = s): TuningTable =>
      withEntries(emptyTable("a"), { [signatureKey(sig)]: { config, defaultMs: 1, bestMs: 1 } });
    expect(lookupMatmul(table({ variant: "registers", wx: 4, wy: 8, splitK: 4 }), s, CPU)).toEqual({
      variant: "registers",
      wx: 4,
      wy: 8,
      splitK: 4,
    });
    // 3 does not divide 1000
    expect(lookupMatmul(table({ variant: "registers", wx: 4, wy: 8, splitK: 3 }), s, CPU)).toBeUndefined();
    const f16 = { ...s, dtype: "f16" as const };
    // partial sums would round to f16
    expect(lookupMatmul(table({ variant: "registers", splitK: 2 }, f16), f16, CPU)).toBeUndefined();
    expect(
      lookupMatmul(table({ variant: "registers", wx: 16, wy: 16 }), s, {
        ...CPU,
        maxComputeInvocationsPerWorkgroup: 128,
      }),
    ).toBeUndefined();
    // another signature
    expect(lookupMatmul(table({ variant: "registers", wx: 4, wy: 8 }), { ...s, epilogue: true }, CPU)).toBeUndefined();
    expect(lookupMatmul(undefined, s, CPU)).toBeUndefined();
  });

  test("corrupt tables are refused with the reason", () => {
    const good = serializeTable(
      withEntries(emptyTable("a"), {
        "f32:nn:1x2x3x4": { config: { variant: "registers", wx: 4, wy: 4 }, defaultMs: 1, bestMs: 0.5 },
      }),
    );
    expect(() => parseTable(good)).not.toThrow();
    const bad: [string, RegExp][] = [
      ["{ not json", /not JSON/],
      ["[]", /not an object/],
      [good.replace('"version": 1', '"version": 2'), /version 2/],
      [good.replace('"adapter": "a"', '"adapter": 3'), /adapter/],
      [good.replace("f32:nn:1x2x3x4", "f32:nn:1x2x3"), /malformed signature/],
      [good.replace('"registers"', '"tensor-cores"'), /unknown variant/],
      [good.replace('"wx": 4', '"wx": -4'), /wx -4/],
      [good.replace('"bestMs": 0.5', '"bestMs": "fast"'), /time "fast"/],
      [good.replace(/"entries": \{[\s\S]*\}\n\}/, '"entries": 7\n}'), /entries is not an object/],
    ];
    for (const [text, why] of bad) {
      expect(() => parseTable(text), text).toThrow(TableFormatError);
      expect(() => parseTable(text), text).toThrow(why);
    }
  });
});

describe("candidates", () => {
  test(
    "the default comes first; no workgroup is larger than the matrix needs; " +
      "split-K only for few tiles and a long K",
    () => {
      fc.assert(
        fc.property(sigArb, (s) => {
          const tiles = tileCandidates(s, CPU);
          expect(configLabel(tiles[0])).toBe(configLabel(defaultConfig(CPU, s)));
          // a batch of matrices with fewer than 16 tiles of 4×8 packs them by default; one matrix never does
          const fewTiles = Math.ceil(s.m / 4) * Math.ceil(s.n / 8) < 16;
          expect(defaultConfig(CPU, s).variant).toBe(s.batch > 1 && fewTiles ? "packed" : "registers");
          expect(tiles.some((c) => c.variant === "packed")).toBe(s.batch > 1);
          expect(new Set(tiles.map(configLabel)).size).toBe(tiles.length);
          const maxWx = 2 ** Math.ceil(Math.log2(Math.ceil(s.n / 8)));
          const maxWy = 2 ** Math.ceil(Math.log2(Math.ceil(s.m / 4)));
          for (const c of tiles) {
            if (c.variant !== "registers") continue;
            expect(c.wx! <= maxWx).toBe(true);
            expect(c.wy! <= maxWy).toBe(true);
          }
          // the default register workgroup: 64 threads, or fewer only when the matrix has no more tiles
          const d = defaultConfig(CPU, s);
          if (d.variant === "registers") expect(d.wx! * d.wy!).toBe(Math.min(64, maxWx * maxWy));
          for (const c of splitCandidates(s, tiles.slice(0, 2), CPU)) {
            expect(s.dtype).toBe("f32");
            expect(s.k % c.splitK!).toBe(0);
            expect(s.k / c.splitK!).toBeGreaterThanOrEqual(64);
          }
        }),
        { numRuns: runs(200) },
      );
      // a decoding step's single row: one row of 64 threads along N; a square matrix keeps 8×8
      const one = {
        dtype: "f32",
        transA: false,
        transB: true,
        batch: 4,
        m: 1,
        n: 1280,
        k: 16,
        epilogue: true,
      } as const;
      expect(configLabel(defaultConfig(CPU, one))).toBe("registers 64×1");
      expect(configLabel(defaultConfig(CPU, { ...one, batch: 1, m: 1024, n: 128 }))).toBe("registers 8×8");
      expect(configLabel(defaultConfig(CPU, { ...one, m: 1024, n: 8 }))).toBe("registers 1×64");
      const skinny: MatmulSignature = {
        dtype: "f32",
        transA: true,
        transB: false,
        batch: 1,
        m: 32,
        n: 96,
        k: 1024,
        epilogue: false,
      };
      expect(splitCandidates(skinny, [defaultConfig(CPU)], CPU).map(configLabel)).toEqual([
        "registers 8×8 split-K 2",
        "registers 8×8 split-K 4",
        "registers 8×8 split-K 8",
      ]);
      expect(splitCandidates({ ...skinny, m: 1024, n: 1024 }, [defaultConfig(CPU)], CPU)).toEqual([]);
    },
  );
});

// ---- every candidate against the reference, on the GPU ----

/** Every configuration the tuner can choose: each workgroup shape, the shared variant, and split-K
 *  over a few tiles (split-K is a graph rewrite, so its correctness does not depend on the tile). */
const ALL: readonly MatmulConfig[] = [
  ...REGISTER_SHAPES.map(([wx, wy]) => ({ variant: "registers" as const, wx, wy, splitK: 1 })),
  { variant: "shared", splitK: 1 },
  ...[2, 3, 4, 8].map((splitK) => ({ variant: "registers" as const, wx: 8, wy: 8, splitK })),
  { variant: "registers", wx: 4, wy: 8, splitK: 4 },
  { variant: "registers", wx: 2, wy: 4, splitK: 2 },
  { variant: "shared", splitK: 2 },
];

// 1, primes, odd sizes, and sizes around the 4×8 thread tile and the 32- and 64-wide workgroup tiles.
const size = fc.constantFrom(1, 2, 3, 5, 7, 8, 13, 31, 32, 33, 64, 65, 97);
const caseArb = fc
  .record({
    m: size,
    n: size,
    kk: fc.constantFrom(1, 2, 3, 5, 13, 16, 31, 64, 67), // K = kk · splitK
    transA: fc.boolean(),
    transB: fc.boolean(),
    batch: fc.array(fc.constantFrom(1, 2, 3), { maxLength: 2 }),
    dropA: fc.nat({ max: 2 }), // leading batch axes the operand lacks (broadcast)
    dropB: fc.nat({ max: 2 }),
    epilogue: fc.boolean(),
    f16: fc.boolean(),
    seed: seedArb,
  })
  .filter((c) => prod(c.batch) * c.m * c.n * c.kk <= 400_000);

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

async function checkCandidate(config: MatmulConfig, c: Case): Promise<void> {
  const gpu = await testGpu();
  const split = config.splitK ?? 1;
  const k = c.kk * split;
  const dtype: DType = c.f16 && split === 1 && gpu.limits.shaderF16 ? "f16" : "f32";
  const b = new GraphBuilder();
  const x = b.input("x", dtype, [...c.batch.slice(c.dropA), ...(c.transA ? [k, c.m] : [c.m, k])]);
  const y = b.input("y", dtype, [...c.batch.slice(c.dropB), ...(c.transB ? [c.n, k] : [k, c.n])]);
  const mm = b.add("matmul", [x, y], { transA: c.transA, transB: c.transB });
  // relu(mm + r): fusion applies it inside the matmul kernel (an epilogue), or inside the split's sum.
  const out = c.epilogue ? b.add("relu", [b.add("add", [mm, b.input("r", dtype, mm.shape)])]) : mm;
  b.output("out", out);
  const g = b.build();
  const key = compileGraph(g, gpu.limits).matmuls[0].signature;
  const tuning = withEntries(emptyTable("test"), { [key]: { config, defaultMs: 1, bestMs: 1 } });
  const program = compileGraph(g, gpu.limits, { tuning });
  expect(program.matmuls).toEqual([{ signature: key, config, tuned: true }]);
  if (split > 1) expect(program.graph.nodes.filter((n) => n.op === "reduce_sum")).toHaveLength(1);
  const r = prng(c.seed);
  const feeds: Record<string, number[]> = {};
  for (const n of g.nodes) if (n.op === "input") feeds[n.attrs.name!] = gridValues(r, dtype, prod(n.shape), 4, 1);
  const ex = await Executor.create(gpu, program);
  try {
    for (const [name, v] of Object.entries(feeds)) ex.write(name, v);
    const got = (await ex.run()).out;
    const bad = firstMismatch(got, runReference(g, feeds).out.data, tolFor("matmul", dtype));
    if (bad) throw new Error(`${configLabel(config)}, ${key}: ${bad}`);
  } finally {
    ex.destroy();
  }
}

describe("every candidate equals the reference", () => {
  test.each(ALL.map((c) => [configLabel(c), c] as const))("%s", async (_, config) => {
    // Every drawn shape is a new shader (llvmpipe compiles one in 0.3–0.9 s): runs are few.
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => checkCandidate(config, c)),
      { numRuns: runs(3) },
    );
  });

  test("split-K of a K-major layout (Aᵀ·B, the weight gradient) copies no operand", async () => {
    const gpu = await testGpu();
    const b = new GraphBuilder();
    const mm = b.add("matmul", [b.input("x", "f32", [256, 32]), b.input("dy", "f32", [256, 96])], { transA: true });
    b.output("dw", mm);
    const g = b.build();
    const key = compileGraph(g, gpu.limits).matmuls[0].signature;
    expect(key).toBe("f32:tn:1x32x96x256");
    const p = compileGraph(g, gpu.limits, {
      tuning: withEntries(emptyTable("t"), {
        [key]: { config: { variant: "registers", splitK: 4 }, defaultMs: 1, bestMs: 1 },
      }),
    });
    // Two kernels: the batched partial products (reading the inputs' own buffers) and their sum.
    expect(p.dispatches.map((d) => p.kernels[d.kernel].name)).toEqual([
      expect.stringMatching(/^matmul_ta_4x32x96x64$/),
      expect.stringMatching(/^reduce/),
    ]);
  });
});
