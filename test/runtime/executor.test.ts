// executor.test.ts: a Program's device objects are created once — identical kernels share a pipeline,
// a second run creates no buffers, pipelines or bind groups — and a run copies back only the values
// asked for.
import { afterEach, describe, expect, test, vi } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { Graph } from "../../compiler/ir.js";
import { type CompileOptions, compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { Executor } from "../../runtime/executor.js";
import { expectClose } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";

/** Three matmuls of one shape and two exps of one shape over distinct inputs: 5 dispatches, 2 kernels. */
function repeated(): Graph {
  const b = new GraphBuilder();
  for (let i = 0; i < 3; i++)
    b.output(`m${i}`, b.add("matmul", [b.input(`a${i}`, "f32", [5, 7]), b.input(`b${i}`, "f32", [7, 3])]));
  for (let i = 0; i < 2; i++) b.output(`e${i}`, b.add("exp", [b.input(`x${i}`, "f32", [11])]));
  return b.build();
}

const feedsOf = (g: Graph, salt: number): Record<string, number[]> =>
  Object.fromEntries(
    g.nodes
      .filter((n) => n.op === "input")
      .map((n) => [
        n.attrs.name!,
        Array.from(
          { length: n.shape.reduce((a, b) => a * b, 1) },
          (_, i) => ((i * 7 + salt * 13 + n.id) % 11) / 8 - 0.6,
        ),
      ]),
  );

async function executorFor(g: Graph, feeds: Record<string, number[]>, opts: CompileOptions = {}): Promise<Executor> {
  const gpu = await testGpu();
  const ex = await Executor.create(gpu, compileGraph(g, gpu.limits, opts));
  for (const [name, values] of Object.entries(feeds)) ex.write(name, values);
  return ex;
}

function expectMatchesReference(
  g: Graph,
  feeds: Record<string, number[]>,
  got: Record<string, Float64Array>,
  names: readonly string[],
): void {
  const ref = runReference(g, feeds);
  for (const name of names) expectClose(got[name], ref[name].data, { atol: 1e-5, rtol: 1e-5 }, name);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("executor", () => {
  test("identical kernels are compiled once: fewer kernels and pipelines than dispatches", async () => {
    const g = repeated();
    const feeds = feedsOf(g, 1);
    // one dispatch per node: parallel kernels (compiler/parallel.ts) would run the five as two
    const ex = await executorFor(g, feeds, { parallel: false });
    try {
      const p = ex.program;
      expect(p.dispatches.length).toBe(5);
      expect(p.kernels.length).toBe(2);
      expect(ex.counts.pipelines).toBe(2);
      expect(ex.counts.bindGroups).toBe(5);
      expectMatchesReference(g, feeds, await ex.run(), ["m0", "m1", "m2", "e0", "e1"]);
    } finally {
      ex.destroy();
    }
  });

  test("running again creates no buffers, pipelines or bind groups, and computes on the new inputs", async () => {
    const g = repeated();
    const ex = await executorFor(g, feedsOf(g, 1));
    try {
      await ex.run();
      const after = { ...ex.counts };
      for (const salt of [2, 3]) {
        const feeds = feedsOf(g, salt);
        for (const [name, values] of Object.entries(feeds)) ex.write(name, values);
        expectMatchesReference(g, feeds, await ex.run(), ["m0", "m1", "m2", "e0", "e1"]);
        expect(ex.counts).toEqual(after);
      }
    } finally {
      ex.destroy();
    }
  });

  test("only the outputs asked for are copied back and mapped", async () => {
    const g = repeated();
    const feeds = feedsOf(g, 4);
    const ex = await executorFor(g, feeds);
    const copy = vi.spyOn(GPUCommandEncoder.prototype, "copyBufferToBuffer");
    const map = vi.spyOn(GPUBuffer.prototype, "mapAsync");
    try {
      const before = ex.counts.buffers;
      const got = await ex.run(["m1"]);
      expect(Object.keys(got)).toEqual(["m1"]);
      expectMatchesReference(g, feeds, got, ["m1"]);
      expect(copy).toHaveBeenCalledTimes(1);
      expect(map).toHaveBeenCalledTimes(1);
      expect(ex.counts.buffers).toBe(before + 1); // one staging buffer, for m1 only
      const both = await ex.run(["e0", "m1"]);
      expect(Object.keys(both).sort()).toEqual(["e0", "m1"]);
      expect(copy).toHaveBeenCalledTimes(3);
      expect(ex.counts.buffers).toBe(before + 2);
    } finally {
      ex.destroy();
    }
  });

  test("buffers kept in arenas: values written, computed and read back at their offsets", async () => {
    const g = repeated();
    const feeds = feedsOf(g, 2);
    const ex = await executorFor(g, feeds, { arenas: true });
    try {
      const arenas = ex.program.buffers.filter((b) => b.role === "arena");
      expect(arenas).toHaveLength(1);
      expect(ex.counts.buffers).toBe(ex.program.buffers.length - ex.program.buffers.filter((b) => b.home).length);
      expect(ex.program.buffers.filter((b) => b.home && b.home.offset > 0).length).toBeGreaterThan(3);
      const names = ["m0", "m1", "m2", "e0", "e1"];
      expectMatchesReference(g, feeds, await ex.run(), names);
      const next = feedsOf(g, 9);
      for (const [name, values] of Object.entries(next)) ex.write(name, values);
      expectMatchesReference(g, next, await ex.run(), names);
    } finally {
      ex.destroy();
    }
  });

  test("a run the device refuses is an error, not stale outputs", async () => {
    const g = repeated();
    const gpu = await testGpu();
    const p = compileGraph(g, gpu.limits);
    // the exp's output bound to its input's buffer as well: one buffer read-only and writable at once
    const d = p.dispatches.findIndex((x) => p.kernels[x.kernel].name.startsWith("exp"));
    const bad = p.dispatches[d].buffers;
    const dispatches = p.dispatches.map((x, i) => (i === d ? { ...x, buffers: [bad[0], bad[0]] } : x));
    const ex = await Executor.create(gpu, { ...p, dispatches });
    try {
      await expect(ex.run()).rejects.toThrow(/the device refused a run of the program: .*usage/s);
    } finally {
      ex.destroy();
    }
  });

  test("asking for a value the program lacks names the ones it has", async () => {
    const g = repeated();
    const ex = await executorFor(g, feedsOf(g, 5));
    try {
      await expect(ex.run(["nope"])).rejects.toThrow(/no input, parameter or output named 'nope'; have: .*m0/);
    } finally {
      ex.destroy();
    }
  });
});
