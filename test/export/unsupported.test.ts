// unsupported.test.ts: exporting a graph with an op that the target has no mapping for fails with one
// message naming the op and the .mira line it came from — here random_normal (mira's counter-based
// stream, which neither torch's nor ONNX's generators reproduce), in a graph built in code since no
// .mira builtin produces it.
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { generateOnnx } from "../../compiler/export/onnx.js";
import { type ExportSource, ExportError } from "../../compiler/export/source.js";
import { staticGraph } from "../../compiler/export/symbolic.js";
import { generateTorch } from "../../compiler/export/torch.js";

const SOURCE = "model Noisy {\n  input x: f32[B, 4]\n  output y = x + noise(x)\n}\n";

function noisyModel(): ExportSource {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [2, 4]);
  const seed = b.add("full", [], { value: 7, dtype: "u32", shape: [] });
  const noise = b.add("random_normal", [seed], { shape: [2, 4], dtype: "f32", stream: 1 });
  const y = b.add("add", [x, noise]);
  b.output("y", y);
  const span = { file: "models/noisy.mira", start: SOURCE.indexOf("x + noise"), end: SOURCE.indexOf("x + noise") + 12 };
  return {
    name: "Noisy",
    sym: staticGraph(b.build(), { B: 2 }),
    params: [],
    inputs: [{ name: "x", dtype: "f32", shape: [2, 4] }],
    outputs: ["y"],
    losses: [],
    origins: new Map([noise, y].map((n) => [n.id, { span, calls: [] }])),
    sources: new Map([["models/noisy.mira", SOURCE]]),
    model: { path: "models/noisy.mira", set: [], sourceHash: "0" },
    config: {},
  };
}

describe("an op the target lacks", () => {
  test.each([
    ["torch", () => generateTorch(noisyModel())],
    ["onnx", () => generateOnnx(noisyModel(), new Map()).bytes],
  ])("%s: fails naming the op and its line", (target, run) => {
    expect(run).toThrow(ExportError);
    expect(run).toThrow(
      `cannot export Noisy to ${target}: op 'random_normal' (at models/noisy.mira:3) has no ${target} mapping`,
    );
  });
});
