// toy-op.test.ts: a new op is one definition. softsign (fixtures/softsign.ts), which mira lacks, is
// installed into the op table and its companion tables, and the op-wide suites pick it up with no
// other edit: its WGSL on the GPU against its reference, its gradient against float64 central
// differences and on the GPU, its torch and ONNX mappings in PyTorch and onnxruntime, and its FLOPs in
// the report.
import { afterAll, describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { opsOfKind } from "../../compiler/ops/index.js";
import { compileGraph } from "../../compiler/program.js";
import { graphFlops } from "../../compiler/report.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { describeExportedOps } from "../export/op-suite.js";
import { installOp } from "../helpers/ops.js";
import { describeElementwiseOps } from "./elementwise-suite.js";
import { SOFTSIGN } from "./fixtures/softsign.js";
import { finiteDifferenceTests, gpuGradientTests } from "./grad-suite.js";
import type { OpName } from "../../compiler/ops/index.js";

// Installed before the suites below collect their cases, as the built-in ops are.
afterAll(installOp("softsign", SOFTSIGN));
const toy = "softsign" as OpName; // not an OpName to tsc: the table's type lists the built-in ops

test("the installed op is in the table, by its kind", () => {
  expect(opsOfKind("elementwise")).toContain("softsign");
});

test("its kernel is the entry's WGSL, and the report counts its FLOPs", () => {
  const b = new GraphBuilder();
  b.output("y", b.add("softsign", [b.input("x", "f32", [5, 7])]));
  const g = b.build();
  const program = compileGraph(g, DEFAULT_LIMITS);
  expect(program.kernels.some((k) => k.code.includes("/ (1.0 + abs("))).toBe(true);
  expect(graphFlops(g)).toBe(3 * 35);
});

describeElementwiseOps([toy]);

describe("gradients match float64 central differences on the reference", () => {
  finiteDifferenceTests([toy]);
});

describe("GPU gradients equal reference gradients", () => {
  gpuGradientTests([toy]);
});

describeExportedOps([toy]);
