// sequence-wgsl.test.ts: the text side of sequence kernels (wgsl/stage.ts), without a GPU. Every kernel the
// families emit must read back as a stage — a family that changes its frame would otherwise silently drop
// out of sequences — and the rewrites must touch exactly what they claim to.
import { describe, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { compileGraph } from "../../compiler/program.js";
import { DEFAULT_ADAMW, buildTrainStep } from "../../compiler/train-step.js";
import { opaqueLoopBounds } from "../../compiler/wgsl/opaque-loops.js";
import { peelOffset } from "../../compiler/wgsl/accesses.js";
import { parseStage, peelStage, renameIdentifiers, vec4Accesses } from "../../compiler/wgsl/stage.js";

describe("vec4 accesses of a binding declared per element", () => {
  test("loads, stores and nested indices are rewritten; other names and members are not", () => {
    const code = "let v = a[(i + 1) / 4]; a[j] = v * a[k[0]]; let s = b.a[2]; aa[1] = x;";
    expect(vec4Accesses(code, "a", "ld", "st")).toBe(
      "let v = ld(i32((i + 1) / 4)); st(i32(j), v * ld(i32(k[0]))); let s = b.a[2]; aa[1] = x;",
    );
  });
  test("a comparison is a load, not a store", () => {
    expect(vec4Accesses("if (a[0] == v) { x = 1; }", "a", "ld", "st")).toBe("if (ld(i32(0)) == v) { x = 1; }");
  });
  test.each(["a[0] += v;", "a[0].x = 1.0;", "let p = &a[0];", "a[0]++;"])("%s is refused", (code) => {
    expect(vec4Accesses(code, "a", "ld", "st")).toBeUndefined();
  });
});

describe("constant offsets peeled out of a binding's indices", () => {
  test("every access starting with the same literal loses it, nested ones too; other names keep theirs", () => {
    const code = "let v = a[512 + c0 * 32 + c1]; a[512u + i] = a[512 + a[512 + j]] + b[512 + i];";
    expect(peelOffset(code, "a")).toEqual({
      code: "let v = a[c0 * 32 + c1]; a[i] = a[a[j]] + b[512 + i];",
      offset: 512,
    });
  });
  test.each([
    ["a[512 + i] + a[256 + i]", "two offsets"],
    ["a[512 + i] + a[i]", "an access without one"],
    ["a[0 + i]", "a zero offset"],
    ["a[i + 512]", "a literal that does not lead"],
    ["a[-4 + i]", "a negative offset"],
    ["b[512 + i]", "no access of the binding"],
  ])("%s is left alone (%s)", (code) => {
    expect(peelOffset(code, "a")).toBeUndefined();
  });
  test("a kernel with the same offset on every read gives the same stage at every offset", () => {
    const stage = (k: number) =>
      parseStage({
        name: "copy",
        code: [
          "@group(0) @binding(0) var<storage, read> x: array<f32>;",
          "@group(0) @binding(1) var<storage, read_write> y: array<f32>;",
          "@compute @workgroup_size(64)",
          "fn main(@builtin(global_invocation_id) gid: vec3<u32>) {",
          `  y[gid.x] = x[${k} + i32(gid.x)];`,
          "}",
        ].join("\n"),
        workgroups: [1, 1, 1],
        bindings: [
          { name: "x", dtype: "f32", access: "read" },
          { name: "y", dtype: "f32", access: "read_write" },
        ],
      })!;
    const at = (k: number, which: number[]) => peelStage(stage(k), (i) => which.includes(i));
    expect(at(96, [0, 1]).stage.code).toBe(at(32, [0, 1]).stage.code);
    expect([at(96, [0, 1]).extra, at(32, [0, 1]).extra]).toEqual([
      [96, 0],
      [32, 0],
    ]);
    // a binding not reached through a table keeps its offset in the code
    expect(at(96, [1])).toEqual({ stage: stage(96), extra: [0, 0] });
  });
});

test("identifiers are renamed whole, never after a dot or inside a longer name", () => {
  const map = new Map([
    ["a", "sq_b0"],
    ["main", "sq0_main"],
  ]);
  expect(renameIdentifiers("fn main() { let x = a[0] + v.a + ab + a_1; }", map)).toBe(
    "fn sq0_main() { let x = sq_b0[0] + v.a + ab + a_1; }",
  );
});

describe("every kernel the families emit reads back as a stage", () => {
  const cases: { file: string; preset?: string; batch: Record<string, number>; set?: string[] }[] = [
    { file: "models/char_lm.mira", batch: { B: 2, T: 8 } },
    { file: "models/mirasol.mira", preset: "tiny", batch: { B: 1, L: 16 }, set: ["chunks=2", "max_chunks=2"] },
    {
      file: "models/mirasol.mira",
      preset: "tiny",
      batch: { B: 1, L: 16 },
      set: ["chunks=2", "max_chunks=2", "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)"],
    },
  ];
  test.each(cases)("$file $set: training step", (c) => {
    const el = loadModel(c.file, { preset: c.preset, set: c.set }).elaborate(c.batch);
    const st = buildTrainStep(el.graph, el.objective ?? el.losses[0], DEFAULT_ADAMW, () => true);
    const p = compileGraph(
      st.graph,
      { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 16 },
      {
        updates: st.updates,
        sequence: false,
      },
    );
    const unread = p.kernels.filter((k) => !parseStage(k)).map((k) => k.name);
    expect(unread).toEqual([]);
    const stages = p.kernels.map((k) => parseStage(k)!);
    // the frame's variety: both barrier and barrier-free kernels, and 1-D and 2-D workgroups
    expect(stages.some((s) => s.barriers)).toBe(true);
    expect(stages.some((s) => !s.barriers)).toBe(true);
    for (const s of stages) expect(s.threads, s.kernel.name).toBe(s.size[0] * s.size[1] * s.size[2]);
  });
});

describe("opaque loop bounds (software adapters)", () => {
  const code = `@group(0) @binding(0) var<storage, read> a: array<f32>;
fn helper(x: f32) -> f32 {
  return x;
}
fn stage(i: u32) {
  for (var j = 1; j < 32; j++) { s += a[j]; }
}
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var k = 0u; k < 4u; k++) { }
  for (var s = 128u; s > 0u; s >>= 1u) { workgroupBarrier(); }
  for (var kk = 0; kk < 192; kk += 4) { }
}
`;
  test("i32 loops over a literal get a bound the compiler cannot fold, in every function that has one", () => {
    const out = opaqueLoopBounds(code);
    expect(out).toContain("for (var j = 1; j < 32 + opaque_zero; j++)");
    expect(out).toContain("for (var kk = 0; kk < 192 + opaque_zero; kk += 4)");
    expect(out.match(/let opaque_zero = i32\(arrayLength\(&a\) \/ 4294967295u\);/g)).toHaveLength(2);
    // u32 loops (typed bounds) and the barrier tree are left alone; a function without loops is untouched
    expect(out).toContain("for (var k = 0u; k < 4u; k++)");
    expect(out).toContain("for (var s = 128u; s > 0u; s >>= 1u)");
    expect(out).toContain("fn helper(x: f32) -> f32 {\n  return x;\n}");
  });
  test("a module without bindings is returned as it is", () => {
    expect(opaqueLoopBounds("fn f() { for (var j = 0; j < 3; j++) { } }")).toBe(
      "fn f() { for (var j = 0; j < 3; j++) { } }",
    );
  });
});
