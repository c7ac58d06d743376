// The library API end to end: compile(source) → load() → run on the GPU equals the reference
// interpreter, for char_lm (also through its generated TypeScript binding) and for a model whose
// Combiner implementation — and with it an output dim — is chosen by `set` alone.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { compile } from "../../api/compile.js";
import { generateBindings } from "../../compiler/bindings.js";
import { initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { expectClose } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";

const root = join(import.meta.dirname, "..", "..");
const charLm = readFileSync(join(root, "models", "char_lm.mira"), "utf8");
/** f32 forward of a small transformer: a few ulps per op over tens of ops. */
const FORWARD = { atol: 2e-4, rtol: 2e-4 };

function wave(n: number, k: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + k) * 0.9);
}

describe("compile() API", () => {
  test("char_lm forward on the GPU equals the reference interpreter", async () => {
    const c = await compile(charLm, {
      file: join(root, "models", "char_lm.mira"),
      preset: "tiny",
      batch: { B: 2, T: 16 },
      limits: (await testGpu()).limits,
    });
    const session = await c.load(await testGpu());
    session.initParams(5);
    const tokens = Array.from({ length: 32 }, (_, i) => (i * 37) % 96);
    const got = await session.run({ tokens });
    const feeds: Record<string, ArrayLike<number>> = { tokens };
    for (const [k, v] of initParams(c.elaborated.params, 5)) feeds[k] = v;
    const ref = runReference(c.elaborated.graph, feeds);
    expectClose(got.logits, ref.logits.data, FORWARD, "logits");
    expectClose(got.objective, ref.objective.data, FORWARD, "objective");
    session.destroy();
  });

  test("the generated TypeScript binding runs char_lm through the same session", async () => {
    const c = await compile(charLm, {
      file: join(root, "models", "char_lm.mira"),
      preset: "tiny",
      batch: { B: 1, T: 8 },
      limits: (await testGpu()).limits,
    });
    const dir = join(root, "test", ".generated");
    mkdirSync(dir, { recursive: true });
    const text = generateBindings(c.elaborated, {
      name: "CharLM",
      command: "test",
      importFrom: "../../api/compile.js",
    });
    writeFileSync(join(dir, "char_lm.ts"), text);
    const binding = (await import(join(dir, "char_lm.ts"))) as {
      CharLMShapes: { outputs: { logits: { shape: number[] } } };
      CharLMParamCount: number;
      runCharLM: (s: unknown, i: { tokens: number[] }) => Promise<{ logits: Float64Array; objective: Float64Array }>;
    };
    expect(binding.CharLMShapes.outputs.logits.shape).toEqual([1, 8, 96]);
    expect(binding.CharLMParamCount).toBe(c.elaborated.paramCount);
    const session = await c.load(await testGpu());
    const out = await binding.runCharLM(session, { tokens: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(out.logits.length).toBe(8 * 96);
    expect(Number.isFinite(out.objective[0])).toBe(true);
    session.destroy();
  });

  test.each([
    ["TransformerCombiner(m: 2)", 2],
    ["ConcatCombiner()", 6],
    ["MemoryCombiner(memory: 4, read: 3)", 3],
  ])("combiner_demo with --set combiner='%s' runs with out = %i and equals the reference", async (choice, out) => {
    const source = readFileSync(join(root, "models", "combiner_demo.mira"), "utf8");
    const c = await compile(source, {
      file: join(root, "models", "combiner_demo.mira"),
      set: [`combiner=${choice}`],
      batch: { B: 2 },
      limits: (await testGpu()).limits,
    });
    const latents = c.elaborated.graph.nodes.find(
      (n) => n.id === c.elaborated.graph.outputs.find((o) => o.name === "latents")!.id,
    )!;
    expect(latents.shape).toEqual([2, 3, out, 16]);
    const session = await c.load(await testGpu());
    session.initParams(2);
    const inputs = { video: wave(2 * 3 * 4 * 16, 1), audio: wave(2 * 3 * 2 * 16, 2), labels: [1, 3] };
    const got = await session.run(inputs);
    const feeds: Record<string, ArrayLike<number>> = { ...inputs };
    for (const [k, v] of initParams(c.elaborated.params, 2)) feeds[k] = v;
    const ref = runReference(c.elaborated.graph, feeds);
    expectClose(got.latents, ref.latents.data, FORWARD, "latents");
    expectClose(got.logits, ref.logits.data, FORWARD, "logits");
    session.destroy();
  });
});
