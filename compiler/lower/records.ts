// records.ts: what elaboration records beside the graph: node origins, unrolled scans and repeats,
// parameters.
import type * as A from "../../dsl/ast.js";
import type { DType } from "../dtype.js";
import type { InitSpec } from "./values.js";

/** Where a node came from: the expression being elaborated and the module calls that led there
 *  (outermost first), so a later pass (compiler/decode.ts) can point at the user's line. */
export interface NodeOrigin {
  readonly span: A.Span;
  readonly calls: readonly { readonly span: A.Span; readonly module: string }[];
}

/** An unrolled `scan` (compiler/stream.ts reads it back as one step with a carried state): the nodes
 *  of step i have ids in [start, end); `carries` are the carried values after it (in the order of the
 *  scan's `carry` list), `yield` the step's value as stacked (with its new axis). */
export interface ScanRecord {
  readonly span: A.Span;
  /** the carries' initial values */
  readonly inits: readonly number[];
  readonly steps: readonly {
    readonly start: number;
    readonly end: number;
    readonly carries: readonly number[];
    readonly yield: number;
  }[];
  /** the concat of the yields */
  readonly out: number;
}

/** An unrolled `repeat`: the nodes of iteration i have ids in [start, end) (the training step's
 *  rematerialisation recomputes one iteration at a time: compiler/remat.ts). */
export interface RepeatRecord {
  readonly span: A.Span;
  readonly iterations: readonly { readonly start: number; readonly end: number }[];
}

export interface ParamInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly init: InitSpec;
}
