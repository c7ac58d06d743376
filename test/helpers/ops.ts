// ops.ts (tests): every fact of one op as a single definition, and installing it into the op table and
// its companion tables (gradient, FLOPs, locality, torch, ONNX) for the duration of a test file — how a test adds
// an op the compiler does not have (toy-op.test.ts) without editing any of them. Test files run in
// their own processes, so an installed op is seen by no other file.
import { FLOPS, type FlopRule } from "../../compiler/ops/flops.js";
import { ONNX_OPS, type OnnxRule } from "../../compiler/export/onnx-ops.js";
import type { NoMapping } from "../../compiler/export/source.js";
import { TORCH_OPS, type TorchRule } from "../../compiler/export/torch-ops.js";
import { LOCALITY, type Locality } from "../../compiler/locality/facts.js";
import { OPS } from "../../compiler/ops/index.js";
import type { OpSpec } from "../../compiler/ops/spec.js";
import { type Differentiation, VJP_RULES } from "../../compiler/ops/vjp.js";

/** An op's entry and the facts the companion tables hold for it. */
export interface OpDefinition {
  readonly spec: OpSpec;
  readonly vjp: Differentiation;
  readonly flops: FlopRule;
  readonly locality: Locality;
  readonly torch: TorchRule | NoMapping;
  readonly onnx: OnnxRule | NoMapping;
}

/** Adds op `name` to every table; returns the function that removes it again. */
export function installOp(name: string, def: OpDefinition): () => void {
  const tables: [Record<string, unknown>, unknown][] = [
    [OPS, def.spec],
    [VJP_RULES, def.vjp],
    [FLOPS, def.flops],
    [LOCALITY, def.locality],
    [TORCH_OPS, def.torch],
    [ONNX_OPS, def.onnx],
  ];
  for (const [table] of tables) {
    if (Object.hasOwn(table, name)) throw new Error(`installOp: '${name}' is already an op`);
  }
  for (const [table, fact] of tables) table[name] = fact;
  return () => {
    for (const [table] of tables) delete table[name];
  };
}
