// index.ts: the op table. Every op of the IR is one entry here; passes, the reference interpreter,
// codegen and tests read it, so a new op is one entry (plus a kernel family only if it is a new kind).
import { ATTENTION_OPS } from "./attention.js";
import { COMPOSITE_OPS } from "./composite.js";
import { ELEMENTWISE_OPS } from "./elementwise.js";
import { LINALG_OPS } from "./linalg.js";
import { MOVEMENT_OPS } from "./movement.js";
import { REDUCE_OPS } from "./reduce.js";
import { RANDOM_OPS, SOURCE_OPS } from "./sources.js";
import { OPTIM_OPS } from "./optim.js";
import { ROWS_OPS } from "./rows.js";
import type { OpSpec } from "./spec.js";
import { IrError } from "../ir.js";

export const OPS = {
  ...SOURCE_OPS,
  ...ELEMENTWISE_OPS,
  ...RANDOM_OPS,
  ...REDUCE_OPS,
  ...MOVEMENT_OPS,
  ...LINALG_OPS,
  ...ROWS_OPS,
  ...COMPOSITE_OPS,
  ...ATTENTION_OPS,
  ...OPTIM_OPS,
} satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OPS;

export const isOpName = (s: string): s is OpName => Object.hasOwn(OPS, s);

export function opSpec(name: string): OpSpec {
  if (!isOpName(name)) throw new IrError(`unknown op '${name}'; the ops are ${Object.keys(OPS).join(", ")}`);
  return OPS[name];
}

/** Op names by kind, so passes and tests test membership instead of listing ops. */
export function opsOfKind(kind: OpSpec["kind"]): OpName[] {
  return (Object.keys(OPS) as OpName[]).filter((n) => OPS[n].kind === kind);
}

/** Ops that fusion may inline as index arithmetic on their consumers' loads (entries marked `view`). */
export const viewOps = (): OpName[] =>
  (Object.keys(OPS) as OpName[]).filter((n) => "view" in OPS[n] && OPS[n].view === true);
