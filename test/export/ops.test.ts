// ops.test.ts: every elementwise op taking f32 inputs, exported alone to PyTorch and to ONNX, computes
// what mira's float64 reference computes (the per-op loop in op-suite.ts).
import { opsOfKind } from "../../compiler/ops/index.js";
import { floatSignature } from "../compiler/grad-cases.js";
import { describeExportedOps } from "./op-suite.js";

describeExportedOps(opsOfKind("elementwise").filter((op) => floatSignature(op) !== undefined));
