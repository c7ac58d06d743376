// Fusion and memory planning: random graphs compiled fused and unfused agree with each other and with
// the reference, and with in-place stores as without buffer reuse; every memory plan passes the
// validator (no two live values share a buffer).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { GraphBuilder } from "../../compiler/builder.js";
import { binary } from "../../compiler/ops/helpers.js";
import { type Node, printGraph } from "../../compiler/ir.js";
import { runReference } from "../../compiler/reference.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import type { OpName } from "../../compiler/ops/index.js";
import { type PlanStep, type PlanValue, lifetimes, planMemory, validateMemoryPlan } from "../../compiler/plan.js";
import { compileGraph } from "../../compiler/program.js";
import { initParams } from "../../compiler/lower.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../../compiler/train-step.js";
import { Executor } from "../../runtime/executor.js";
import { writeInitialState } from "../../runtime/trainer.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu, testGpu } from "../helpers/gpu.js";
import { prng, runs } from "./gen.js";
import { graphArb, randomGraph } from "./random-graph.js";

/** Smooth, well-conditioned ops: fused and unfused kernels perform the same f32 operations, so their
 *  results may differ only by contraction and reassociation, which these ops do not amplify. */
const SMOOTH: OpName[] = [
  "add",
  "sub",
  "mul",
  "neg",
  "abs",
  "exp",
  "tanh",
  "sigmoid",
  "relu",
  "square",
  "max",
  "min",
  "gelu",
  "sin",
  "reduce_sum",
  "reduce_max",
  "reduce_mean",
  "reshape",
  "permute",
  "broadcast",
  "slice",
  "pad",
  "concat",
  "matmul",
  "softmax",
  "layer_norm",
  "select",
  "lt",
  "gt",
];
/** fused vs unfused f32, a handful of ulps per op over ≤ 8 ops, relative to the values' scale */
const FUSED_VS_UNFUSED = { atol: 1e-4, rtol: 1e-4 };

describe("fusion", () => {
  test(
    "random graphs: fused equals unfused, " + "in place equals without buffer reuse, and the plans are valid",
    async () => {
      const limits = (await testGpu()).limits;
      let inPlace = 0;
      await fc.assert(
        fc.asyncProperty(graphArb, async ({ shape, steps, seed }) => {
          const { graph, draw } = randomGraph(shape, steps, SMOOTH);
          // only the sinks are outputs, so producers can be fused into their consumers
          const used = new Set(graph.nodes.flatMap((n) => n.inputs));
          const sinks = { nodes: graph.nodes, outputs: graph.outputs.filter((o) => !used.has(o.id)) };
          const r = prng(seed);
          const feeds = Object.fromEntries(
            [...draw].map(([name, f]) => [name, f(r).map((v) => Math.max(-3, Math.min(3, v)))]),
          );
          for (const fuse of [true, false]) {
            const p = compileGraph(sinks, limits, { fuse });
            expect(validateMemoryPlan(p.memory.plan, p.memory.values, p.memory.steps)).toEqual([]);
            inPlace += p.memory.plan.inPlaceSteps.size;
          }
          const fused = await runOnGpu(sinks, feeds, { fuse: true });
          const unfused = await runOnGpu(sinks, feeds, { fuse: false });
          // no buffer reuse, so no in-place stores: the same kernels' arithmetic, so the same bits
          const apart = await runOnGpu(sinks, feeds, { fuse: true, reuseBuffers: false });
          for (const o of sinks.outputs) {
            const bad = firstMismatch(fused[o.name], unfused[o.name], FUSED_VS_UNFUSED);
            if (bad) throw new Error(`sink ${o.name}: fused vs unfused ${bad}\n${printGraph(sinks)}`);
            const moved = firstMismatch(fused[o.name], apart[o.name], { atol: 0, rtol: 0 });
            if (moved) throw new Error(`sink ${o.name}: with vs without buffer reuse ${moved}\n${printGraph(sinks)}`);
          }
        }),
        { numRuns: runs(25) },
      );
      expect(inPlace).toBeGreaterThan(0); // the property saw in-place stores at all
    },
  );

  test(
    "a char_lm training step stores elementwise results in place, " +
      "and computes the same bits as without buffer reuse",
    async () => {
      const gpu = await testGpu();
      const el = loadModel("models/char_lm.mira", { preset: "tiny" }).elaborate({ B: 2, T: 8 });
      const st = buildTrainStep(el.graph, "objective", DEFAULT_ADAMW, () => true);
      const run = async (reuseBuffers: boolean) => {
        // without row kernels, which would absorb the norms' elementwise kernels that store in place
        const program = compileGraph(st.graph, gpu.limits, { updates: st.updates, reuseBuffers, rows: false });
        expect(validateMemoryPlan(program.memory.plan, program.memory.values, program.memory.steps)).toEqual([]);
        const ex = await Executor.create(gpu, program);
        try {
          writeInitialState(
            ex,
            el.params.map((p) => p.name),
            initParams(el.params, 1),
          );
          ex.write(
            "tokens",
            Array.from({ length: 16 }, (_, i) => (i * 5 + 1) % 60),
          );
          for (const [name, v] of Object.entries(stepScalars(DEFAULT_ADAMW, 1, 1e-2))) ex.write(name, [v]);
          const out = await ex.run(["step.loss", "step.grad_norm"]);
          return {
            out,
            params: await ex.read(el.params.map((p) => p.name)),
            inPlace: program.memory.plan.inPlaceSteps.size,
            // an in-place kernel that takes four elements per index (wgsl/fused.ts), loading its read through
            // the output binding
            wideInPlace: program.kernels.some(
              (k) => k.name.endsWith("_inplace") && /let j3 = i \+ \d+;|array<vec4</.test(k.code),
            ),
            bytes: program.memory.plan.totalBytes,
          };
        } finally {
          ex.destroy();
        }
      };
      const shared = await run(true);
      const apart = await run(false);
      expect(shared.inPlace).toBeGreaterThan(0);
      expect(shared.wideInPlace).toBe(true);
      expect(apart.inPlace).toBe(0);
      expect(shared.bytes).toBeLessThan(apart.bytes);
      for (const k of ["step.loss", "step.grad_norm"]) expect(shared.out[k]).toEqual(apart.out[k]);
      for (const p of el.params)
        expect(
          firstMismatch(shared.params[p.name], apart.params[p.name], { atol: 0, rtol: 0 }),
          p.name,
        ).toBeUndefined();
    },
  );

  test.each([
    ["models/char_lm.mira", { B: 4, T: 16 }],
    ["models/mirasol.mira", { B: 2, L: 8 }],
  ])("a %s training step needs at least 3× fewer dispatches fused, with a valid plan", (file, batch) => {
    const el = loadModel(file, { preset: "tiny" }).elaborate(batch);
    const st = buildTrainStep(el.graph, "objective", DEFAULT_ADAMW, () => true);
    const fused = compileGraph(st.graph, DEFAULT_LIMITS, { updates: st.updates });
    const unfused = compileGraph(st.graph, DEFAULT_LIMITS, { updates: st.updates, fuse: false });
    expect(validateMemoryPlan(fused.memory.plan, fused.memory.values, fused.memory.steps)).toEqual([]);
    expect(fused.dispatches.length * 3).toBeLessThanOrEqual(unfused.dispatches.length);
    const reuse = fused.buffers.reduce((s, b) => s + b.bytes, 0);
    const noReuse = compileGraph(st.graph, DEFAULT_LIMITS, { updates: st.updates, reuseBuffers: false }).buffers.reduce(
      (s, b) => s + b.bytes,
      0,
    );
    expect(reuse).toBeLessThan(noReuse);
  });
});

describe("merged kernels (several outputs)", () => {
  const feedsFor = (n: number): Record<string, number[]> => {
    const r = prng(n);
    return { x: Array.from({ length: 35 }, () => r() * 2 - 1), y: Array.from({ length: 35 }, () => r() * 2 - 1) };
  };
  const check = async (
    g: ReturnType<GraphBuilder["build"]>,
    feeds: Record<string, number[]>,
    limits?: { maxStorageBuffersPerShaderStage: number },
    opts: { rows?: boolean } = {},
  ) => {
    const ref = runReference(g, feeds);
    const got = await runOnGpu(g, feeds, { limits, ...opts });
    for (const o of g.outputs)
      expect(firstMismatch(got[o.name], ref[o.name].data, { atol: 1e-5, rtol: 1e-5 }), o.name).toBeUndefined();
    const p = compileGraph(g, { ...DEFAULT_LIMITS, ...limits }, opts);
    expect(validateMemoryPlan(p.memory.plan, p.memory.values, p.memory.steps)).toEqual([]);
    return p;
  };

  test("kernels of one shape that feed each other become one kernel storing what is read outside", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "f32", [7, 5]);
    const y = b.input("y", "f32", [7, 5]);
    const a = b.add("mul", [x, y]); // two users: a kernel of its own before merging
    const s = b.add("add", [a, x]);
    const e = b.add("exp", [a]);
    b.output("s", s);
    b.output("e", e);
    b.output("d", b.add("sub", [s, e]));
    const p = await check(b.build(), feedsFor(1));
    expect(p.dispatches).toHaveLength(1);
    expect(p.kernels[0].bindings.map((x) => x.name)).toEqual(["in0", "in1", "out0", "out1", "out2"]);
    // with room for four buffers only, the three outputs cannot all be stored by one kernel
    const small = await check(b.build(), feedsFor(2), { maxStorageBuffersPerShaderStage: 4 });
    expect(small.dispatches.length).toBeGreaterThan(1);
    for (const k of small.kernels) expect(k.bindings.length).toBeLessThanOrEqual(4);
  });

  test("no merge moves a consumer before its producer, or reads a merged value through a view", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "f32", [7, 5]);
    const y = b.input("y", "f32", [7, 5]);
    const a = b.add("mul", [x, y]);
    const total = b.add("reduce_sum", [a], { axes: [0, 1] }); // runs between a and its other consumer
    b.output("b", binary(b, "add", a, total));
    const p = await check(b.build(), feedsFor(3), undefined, { rows: false });
    expect(p.dispatches).toHaveLength(3);
    // a row kernel may hold all three: a per element, its sum, then a + sum per element, in that order
    const rows = await check(b.build(), feedsFor(3));
    expect(rows.kernels.map((k) => k.name)).toEqual([expect.stringMatching(/^rows_mul_reduce_sum_add/)]);

    const v = new GraphBuilder();
    const sq = v.input("x", "f32", [5, 5]);
    const t = v.add("exp", [v.add("mul", [sq, sq])]);
    const both = v.add("add", [t, v.add("permute", [t], { perm: [1, 0] })]); // t at (i, j) and at (j, i)
    v.output("t2", v.add("add", [t, sq]));
    v.output("both", both);
    const q = await check(v.build(), { x: feedsFor(4).x.slice(0, 25) });
    expect(q.dispatches.length).toBeGreaterThan(1);
  });
});

describe("a matmul's kernel stores its epilogue and an activation that reads it", () => {
  // h = x·w + b read by the activation and by another consumer (a backward pass keeps it): the matmul's
  // kernel stores h and gelu(h); a kernel reading anything computed later, or h through a view, stays
  test("every layout of this adapter and a GPU's, row counts past a tile: values as the reference", async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 3, 13, 67),
        fc.constantFrom(1, 5, 32),
        fc.constantFrom(1, 7, 64),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        async (m, n, k, gpuLayout, seed) => {
          const b = new GraphBuilder();
          const x = b.input("x", "f32", [m, k]);
          const h = b.add("add", [
            b.add("matmul", [x, b.param("w", "f32", [k, n])]),
            b.add("broadcast", [b.param("b", "f32", [n])], { shape: [m, n] }),
          ]);
          b.output("y", b.add("gelu", [h]));
          b.output("z", b.add("reduce_sum", [h], { axes: [0] }));
          const g = b.build();
          const limits = gpuLayout ? { ...gpu.limits, adapterKind: "gpu" as const } : gpu.limits;
          const p = compileGraph(g, limits, { parallel: false });
          const mm = p.kernels.find((kk) => kk.name.startsWith("matmul"))!;
          expect(mm.name).toContain("gelu");
          expect(mm.bindings.filter((bb) => bb.access === "read_write")).toHaveLength(2);
          expect(validateMemoryPlan(p.memory.plan, p.memory.values, p.memory.steps)).toEqual([]);
          const r = prng(seed);
          const feeds = Object.fromEntries(
            g.nodes
              .filter((nd) => nd.op === "input" || nd.op === "param")
              .map((nd) => [
                nd.attrs.name!,
                Array.from({ length: nd.shape.reduce((a, c) => a * c, 1) }, () => r() - 0.5),
              ]),
          );
          const ref = runReference(g, feeds);
          const got = await runOnGpu(g, feeds, { limits, parallel: false });
          for (const o of g.outputs)
            expect(firstMismatch(got[o.name], ref[o.name].data, { atol: 1e-5, rtol: 1e-4 }), o.name).toBeUndefined();
        },
      ),
      { numRuns: runs(6) },
    );
  });
});

test("an activation reading the epilogue through a view, or a value computed elsewhere, keeps its kernel", () => {
  const build = (activation: (b: GraphBuilder, h: Node, x: Node) => Node) => {
    const b = new GraphBuilder();
    const x = b.input("x", "f32", [6, 6]);
    const h = b.add("add", [b.add("matmul", [x, b.param("w", "f32", [6, 6])]), x]);
    b.output("y", activation(b, h, x));
    b.output("z", b.add("reduce_sum", [h], { axes: [0] }));
    return compileGraph(b.build(), DEFAULT_LIMITS, { parallel: false });
  };
  const stores = (p: ReturnType<typeof build>) =>
    p.kernels.find((k) => k.name.startsWith("matmul"))!.bindings.filter((x) => x.access === "read_write").length;
  expect(stores(build((b, h) => b.add("gelu", [h])))).toBe(2);
  expect(stores(build((b, h) => b.add("gelu", [b.add("permute", [h], { perm: [1, 0] })])))).toBe(1);
  const rowSum = (b: GraphBuilder, x: Node) =>
    b.add("broadcast", [b.add("reduce_sum", [x], { axes: [1], keepDims: true })], { shape: [6, 6] });
  expect(stores(build((b, h, x) => b.add("mul", [b.add("gelu", [h]), rowSum(b, x)])))).toBe(1);
});

describe("fused f16", () => {
  test("a cast to f16 inside a fused kernel rounds exactly as storing f16 does (edge values included)", async () => {
    const xs = Array.from({ length: 2000 }, (_, i) =>
      i < 1000 ? Math.sin(i) * 3 * 10 ** ((i % 13) - 9) : Math.sin(i) * 70000,
    );
    Object.assign(xs, { 5: NaN, 6: Infinity, 7: 65519.99, 8: 65520, 9: 2 ** -25, 10: 3 * 2 ** -26, 11: -0.0001 });
    const b = new GraphBuilder();
    const x = b.input("x", "f32", [2000]);
    b.output("c", b.add("cast", [b.add("cast", [x], { dtype: "f16" })], { dtype: "f32" }));
    b.output(
      "s",
      b.add("reduce_sum", [b.add("cast", [b.add("slice", [x], { starts: [12], ends: [1000] })], { dtype: "f16" })], {
        axes: [0],
      }),
    );
    const g = b.build();
    const ref = runReference(g, { x: xs });
    const got = await runOnGpu(g, { x: xs }, { fuse: true });
    expect(firstMismatch(got.c, ref.c.data, { atol: 0, rtol: 0 })).toBeUndefined();
    // the f16 sum accumulates in f32 on the GPU and in float64 on the reference: within one f16 ulp
    expect(Math.abs(got.s[0] - ref.s.data[0])).toBeLessThanOrEqual(
      2 ** -11 * Math.max(Math.abs(ref.s.data[0]), 2 ** -14),
    );
  });
});

describe("memory plan", () => {
  const valueArb = fc.record({ bytes: fc.integer({ min: 4, max: 4096 }), persistent: fc.boolean() });
  const scheduleArb = fc.array(
    fc.record({
      reads: fc.array(fc.nat({ max: 60 }), { maxLength: 4 }),
      writes: fc.array(valueArb, { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 40 },
  );
  /** Values and steps of a drawn schedule: each step writes new values and reads earlier ones only. */
  const scheduleOf = (raw: typeof scheduleArb extends fc.Arbitrary<infer T> ? T : never) => {
    const values: PlanValue[] = [];
    const steps: PlanStep[] = raw.map((r) => {
      const reads = r.reads.filter((x) => x < values.length);
      const writes = r.writes.map((w) => {
        values.push({ id: values.length, ...w });
        return values.length - 1;
      });
      return { reads, writes };
    });
    return { values, steps };
  };
  test("no two values whose lifetimes overlap share a buffer (random schedules)", () => {
    fc.assert(
      fc.property(scheduleArb, (raw) => {
        // each step writes one to three new values (a merged kernel several) and reads earlier ones only
        const { values, steps } = scheduleOf(raw);
        const plan = planMemory(values, steps);
        expect(validateMemoryPlan(plan, values, steps)).toEqual([]);
        expect(plan.totalBytes).toBeLessThanOrEqual(values.reduce((a, v) => a + v.bytes, 0));
      }),
      { numRuns: 300 },
    );
  });

  test("a value takes a free buffer at most twice its size, or grows a smaller one (random schedules too)", () => {
    // a 1000-byte value dies at step 1; a 10-byte value then takes a new buffer, a 600-byte one the freed one
    const values = [
      { id: 0, bytes: 1000, persistent: false },
      { id: 1, bytes: 10, persistent: false },
      { id: 2, bytes: 600, persistent: false },
      { id: 3, bytes: 4, persistent: false },
    ];
    const steps = [
      { reads: [], writes: [0] },
      { reads: [0], writes: [3] },
      { reads: [3], writes: [1] },
      { reads: [1], writes: [2] },
      { reads: [2, 1], writes: [] },
    ];
    const plan = planMemory(values, steps);
    expect(validateMemoryPlan(plan, values, steps)).toEqual([]);
    expect(plan.slotOf.get(1)).not.toBe(plan.slotOf.get(0));
    expect(plan.slotOf.get(2)).toBe(plan.slotOf.get(0));
    fc.assert(
      fc.property(scheduleArb, (raw) => {
        const { values, steps } = scheduleOf(raw);
        const plan = planMemory(values, steps);
        const bytes = new Map(values.map((v) => [v.id, v.bytes]));
        // each value placed in a used buffer grew it or was at least half its size then
        plan.residents.forEach((ids, slot) => {
          let size = 0;
          for (const id of ids) {
            const b = bytes.get(id)!;
            expect(b > size || size <= 2 * b, `value %${id}: ${b} bytes into a buffer of ${size}`).toBe(true);
            size = Math.max(size, b);
          }
          expect(size).toBe(plan.slots[slot]);
        });
      }),
      { numRuns: 200 },
    );
  });

  test("with a gap, a freed buffer is taken again only that many steps after its last use (random schedules)", () => {
    let reused = 0;
    fc.assert(
      fc.property(scheduleArb, fc.integer({ min: 1, max: 8 }), (raw, gap) => {
        const { values, steps } = scheduleOf(raw);
        const plan = planMemory(values, steps, true, gap);
        expect(validateMemoryPlan(plan, values, steps)).toEqual([]);
        const life = lifetimes(values, steps);
        for (const ids of plan.residents)
          for (let k = 1; k < ids.length; k++) {
            const [a, b] = [life.get(ids[k - 1])!, life.get(ids[k])!];
            if (a.last < 0 || b.first < 0) continue; // a value no step touches has no lifetime
            expect(b.first, `gap ${gap}`).toBeGreaterThan(a.last + gap);
            reused++;
          }
      }),
      { numRuns: 300 },
    );
    expect(reused).toBeGreaterThan(0); // buffers were shared at all
  });

  test("the validator catches a plan that shares a buffer between live values", () => {
    const values: PlanValue[] = [
      { id: 0, bytes: 16, persistent: false },
      { id: 1, bytes: 16, persistent: false },
    ];
    const steps: PlanStep[] = [
      { reads: [], writes: [0] },
      { reads: [0], writes: [1] },
    ];
    const bad = {
      inPlaceSteps: new Set<number>(),
      slotOf: new Map([
        [0, 0],
        [1, 0],
      ]),
      slots: [16],
      residents: [[0, 1]],
      totalBytes: 16,
    };
    expect(validateMemoryPlan(bad, values, steps)).toHaveLength(1);
    // the same sharing is the point of an in-place step, and only there
    expect(
      validateMemoryPlan({ ...bad, inPlaceSteps: new Set([1]) }, values, [steps[0], { ...steps[1], inPlace: 0 }]),
    ).toEqual([]);
    const longer = [...steps, { reads: [0], writes: [] }]; // value 0 is read after the step that would overwrite it
    expect(
      validateMemoryPlan({ ...bad, inPlaceSteps: new Set([1]) }, values, [
        longer[0],
        { ...longer[1], inPlace: 0 },
        longer[2],
      ]).length,
    ).toBeGreaterThan(0);
  });

  test("in-place writes take the buffer of a read that dies at their step, and only then (random schedules)", () => {
    let used = 0;
    fc.assert(
      fc.property(scheduleArb, fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), (raw, wantInPlace) => {
        const values: PlanValue[] = [];
        const steps: PlanStep[] = raw.map((r, s) => {
          const reads = r.reads.filter((x) => x < values.length);
          const writes = r.writes.map((w) => {
            values.push({ id: values.length, ...w });
            return values.length - 1;
          });
          return wantInPlace[s] && reads.length ? { reads, writes, inPlace: reads[0] } : { reads, writes };
        });
        const plan = planMemory(values, steps);
        expect(validateMemoryPlan(plan, values, steps)).toEqual([]);
        for (const s of plan.inPlaceSteps)
          expect(plan.slotOf.get(steps[s].writes[0])).toBe(plan.slotOf.get(steps[s].inPlace!));
        used += plan.inPlaceSteps.size;
      }),
      { numRuns: 300 },
    );
    expect(used).toBeGreaterThan(0); // the property saw in-place steps at all
  });
});
