// op-suite.ts: each op alone, exported to PyTorch and to ONNX, computes what mira's reference
// computes — the per-op loop of the export suites, as a function of the ops to cover, so that a test
// can run it on ops it adds to the table (toy-op.test.ts). The model suites (torch.test.ts,
// onnx.test.ts) check whole models; this checks each op's mapping on its own, on inputs from the op's
// domain, one torch process for all ops.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { DType } from "../../compiler/dtype.js";
import { generateOnnx } from "../../compiler/export/onnx.js";
import type { ExportSource } from "../../compiler/export/source.js";
import { staticGraph } from "../../compiler/export/symbolic.js";
import { generateTorch } from "../../compiler/export/torch.js";
import type { Graph } from "../../compiler/ir.js";
import { type OpName, opSpec } from "../../compiler/ops/index.js";
import type { Domain, ElementwiseOp, Tolerance } from "../../compiler/ops/spec.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { expectClose } from "../helpers/close.js";
import { runPython } from "../helpers/torch.js";
import { prng, valuesOf } from "../compiler/gen.js";
import { floatSignature } from "../compiler/grad-cases.js";

const PYTHON_DIR = fileURLToPath(new URL("../../compiler/export/python/", import.meta.url));
const SHAPE = [3, 4];

/** torch and onnxruntime compute in f32 what the reference computes in float64 rounded to f32: the
 *  model suites' bound, or the op's own tolerance where that is looser. */
const tolFor = (op: string): Tolerance => {
  const t = opSpec(op).tol;
  return { atol: Math.max(t.atol, 2e-5), rtol: Math.max(t.rtol, 1e-4) };
};

interface OpCase {
  readonly op: string;
  readonly graph: Graph;
  readonly feeds: Record<string, number[]>;
  readonly dtypes: readonly DType[];
  readonly src: ExportSource;
  readonly ref: ArrayLike<number>;
}

/** The export source of a one-op graph: inputs x0, x1, … of fixed shapes, output y. */
function sourceOf(op: string, graph: Graph, dtypes: readonly DType[]): ExportSource {
  return {
    name: "Op",
    sym: staticGraph(graph, {}),
    params: [],
    inputs: dtypes.map((dtype, k) => ({ name: `x${k}`, dtype, shape: SHAPE })),
    outputs: ["y"],
    losses: [],
    origins: new Map(),
    model: { path: `ops/${op}`, set: [], sourceHash: "0" },
    config: {},
  };
}

/** A one-op case for an elementwise op over f32 inputs (a bool condition first where the op takes one). */
function caseOf(op: string, seed: number): OpCase {
  const dtypes = floatSignature(op as OpName);
  if (!dtypes) throw new Error(`op-suite: '${op}' takes no f32 inputs`);
  const b = new GraphBuilder();
  b.output(
    "y",
    b.add(
      op,
      dtypes.map((d, k) => b.input(`x${k}`, d, SHAPE)),
    ),
  );
  const graph = b.build();
  const domain: Domain = (opSpec(op) as ElementwiseOp).domain ?? "any";
  const r = prng(seed);
  const draw = (d: DType) => valuesOf(r, d, prod(SHAPE), domain).map(Math.fround);
  const feeds = Object.fromEntries(dtypes.map((d, k) => [`x${k}`, draw(d)]));
  return { op, graph, feeds, dtypes, src: sourceOf(op, graph, dtypes), ref: runReference(graph, feeds).y.data };
}

/** Registers, per op, its torch and its ONNX export against the reference (elementwise ops taking f32). */
export function describeExportedOps(ops: readonly string[]): void {
  describe("each op exported alone computes what the reference computes", () => {
    let dir: string;
    let cases: OpCase[];
    let torchOut: Record<string, Record<string, number[]>>;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "mira-export-ops-"));
      cases = ops.map((op, i) => caseOf(op, 1000 + i));
      const manifest = cases.map((c) => {
        const at = join(dir, c.op);
        mkdirSync(at);
        writeFileSync(join(at, "model.py"), generateTorch(c.src).code);
        for (const f of readdirSync(PYTHON_DIR).filter((n) => n.endsWith(".py"))) {
          copyFileSync(join(PYTHON_DIR, f), join(at, f));
        }
        const inputs = c.dtypes.map((dtype, k) => [`x${k}`, { dtype, shape: SHAPE, data: c.feeds[`x${k}`] }]);
        return { op: c.op, dir: at, inputs: Object.fromEntries(inputs) };
      });
      writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
      runPython([join(import.meta.dirname, "op_forward.py"), join(dir, "manifest.json"), join(dir, "out.json")]);
      torchOut = JSON.parse(readFileSync(join(dir, "out.json"), "utf8"));
    }, 600_000);

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test.each(ops)("%s: torch", (op) => {
      const c = cases.find((x) => x.op === op)!;
      expectClose(torchOut[op].y, c.ref, tolFor(op), `${op} (torch)`);
    });

    test.each(ops)("%s: onnx", async (op) => {
      const c = cases.find((x) => x.op === op)!;
      const session = await ort.InferenceSession.create(generateOnnx(c.src, new Map()).bytes);
      const feeds = Object.fromEntries(
        c.dtypes.map((d, k) => {
          const v = c.feeds[`x${k}`];
          const t =
            d === "bool"
              ? new ort.Tensor("bool", Uint8Array.from(v), SHAPE)
              : new ort.Tensor("float32", Float32Array.from(v), SHAPE);
          return [`x${k}`, t];
        }),
      );
      const got = await session.run(feeds);
      expectClose(Array.from(got.y.data as ArrayLike<number | boolean>, Number), c.ref, tolFor(op), `${op} (onnx)`);
      await session.release();
    });
  });
}
