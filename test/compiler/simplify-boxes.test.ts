// simplify-boxes.test.ts: the box rules of passes/simplify-boxes.ts against the reference on the GPU.
// A scan's backward pass sums padded step gradients; summed in step order, either way, the pads and adds
// become one concat (one pad around it when the steps leave a margin); in any other order the values stay
// right. A slice inside one part of a concat reads that part; one across parts keeps the concat.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { type Graph, type Node, printGraph } from "../../compiler/ir.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu, testGpu } from "../helpers/gpu.js";
import { prng, runs, seedArb, valuesOf } from "./gen.js";

async function expectReference(g: Graph, seed: number): Promise<void> {
  const r = prng(seed);
  const feeds: Record<string, number[]> = {};
  for (const n of g.nodes) if (n.op === "input") feeds[n.attrs.name!] = valuesOf(r, n.dtype, prod(n.shape), "unit");
  const got = await runOnGpu(g, feeds);
  const ref = runReference(g, feeds);
  for (const o of g.outputs) {
    const bad = firstMismatch(got[o.name], ref[o.name].data, { atol: 0, rtol: 0 }); // each sum is x + 0
    if (bad) throw new Error(`${o.name}: ${bad}\n${printGraph(g)}`);
  }
}

const ops = async (g: Graph) => compileGraph(g, (await testGpu()).limits).graph.nodes.map((n) => n.op);

describe("a sum of padded pieces becomes a concat", () => {
  test("pieces side by side, summed in order, in reverse, or shuffled; with or without margins", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 7 }),
        fc.record({ outer: fc.constantFrom(1, 2, 3), inner: fc.constantFrom(1, 4, 7) }),
        fc.record({ lead: fc.nat({ max: 2 }), trail: fc.nat({ max: 2 }) }),
        fc.constantFrom("in order", "reverse", "shuffled"),
        seedArb,
        async (sizes, { outer, inner }, { lead, trail }, order, seed) => {
          const total = lead + sizes.reduce((a, s) => a + s, 0) + trail;
          const b = new GraphBuilder();
          let at = lead;
          const pads: Node[] = sizes.map((s, i) => {
            const piece = b.input(`g${i}`, "f32", [outer, s, inner]);
            const lo = [0, at, 0];
            at += s;
            return b.add("pad", [piece], { lo, hi: [0, total - at, 0], value: 0 });
          });
          const r = prng(seed);
          const ordered =
            order === "in order" ? pads : order === "reverse" ? [...pads].reverse() : [...pads].sort(() => r() - 0.5);
          b.output(
            "y",
            ordered.reduce((acc, p) => b.add("add", [acc, p])),
          );
          const g = b.build();
          await expectReference(g, seed);
          if (order === "shuffled") return;
          const left = await ops(g);
          expect(left.filter((op) => op === "add")).toEqual([]);
          expect(left.filter((op) => op === "pad").length).toBe(sizes.length > 1 && lead + trail === 0 ? 0 : 1);
        },
      ),
      { numRuns: runs(12) },
    );
  });

  test("pieces apart, or misaligned off the axis, keep their pads and adds", async () => {
    const b = new GraphBuilder();
    const p = b.add("pad", [b.input("p", "f32", [2, 3])], { lo: [0, 0], hi: [0, 4], value: 0 });
    const q = b.add("pad", [b.input("q", "f32", [2, 3])], { lo: [0, 4], hi: [0, 0], value: 0 }); // a gap
    const s = b.add("pad", [b.input("s", "f32", [1, 3])], { lo: [1, 3], hi: [0, 1], value: 0 }); // one row
    b.output("y", b.add("add", [b.add("add", [p, q]), s]));
    const g = b.build();
    expect((await ops(g)).filter((op) => op === "pad")).toHaveLength(3);
    await expectReference(g, 7);
  });
});

describe("a slice of a concat", () => {
  test("inside one part reads that part; across parts reads the concat", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 5 }),
        fc.nat(),
        fc.nat(),
        seedArb,
        async (sizes, from, len, seed) => {
          const total = sizes.reduce((a, s) => a + s, 0);
          const start = from % total;
          const end = start + 1 + (len % (total - start));
          const b = new GraphBuilder();
          const parts = sizes.map((s, i) => b.input(`x${i}`, "f32", [s, 3]));
          const c = b.add("concat", parts, { axis: 0 });
          b.output("y", b.add("slice", [c], { starts: [start, 0], ends: [end, 3] }));
          const g = b.build();
          await expectReference(g, seed);
          let at = 0;
          const inside = sizes.some((s) => {
            const within = start >= at && end <= at + s;
            at += s;
            return within;
          });
          expect((await ops(g)).includes("concat")).toBe(!inside);
        },
      ),
      { numRuns: runs(12) },
    );
  });
});
