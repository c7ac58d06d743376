// types.ts: what the checker knows about a value. Tensor types carry symbolic dims; `rest` stands for
// any number of leading dims (`f32[..., d]`), so Linear applies to [B, T, d] and [B, d] alike.
import type * as A from "./ast.js";
import { type Dim, dimEq, printDim } from "./dims.js";

export type DType = "f32" | "f16" | "i32" | "u32" | "bool";
export const DTYPE_NAMES: readonly DType[] = ["f32", "f16", "i32", "u32", "bool"];
export const isDType = (s: string): s is DType => (DTYPE_NAMES as readonly string[]).includes(s);

export interface TensorTy {
  readonly k: "tensor";
  readonly dtype: DType;
  readonly rest?: string;
  readonly dims: readonly Dim[];
}

export interface SigInput {
  readonly name: string;
  readonly ty: TensorTy | { readonly k: "mask" };
  readonly default?: A.Expr;
  readonly span: A.Span;
}

/** A module's tensor signature, in terms of its hyperparameter names and its free dim names. */
export interface Signature {
  readonly inputs: readonly SigInput[];
  readonly result: TensorTy;
  /** Dims that appear only in the result (an interface's `out`): fixed by each implementation. */
  readonly outputOnly: readonly string[];
}

export interface HyperInfo {
  readonly name: string;
  readonly type: HyperType;
  readonly default?: A.Expr;
  readonly span: A.Span;
}

export type HyperType =
  | { readonly k: "int" }
  | { readonly k: "float" }
  | { readonly k: "bool" }
  | { readonly k: "dtype" }
  | { readonly k: "mask" }
  | { readonly k: "iface"; readonly name: string };

export interface ModuleInfo {
  readonly name: string;
  readonly decl: A.ModuleDecl;
  readonly hypers: readonly HyperInfo[];
  readonly sig?: Signature; // undefined when the header itself was broken
  readonly implements?: string;
}

export interface InterfaceInfo {
  readonly name: string;
  readonly decl: A.InterfaceDecl;
  readonly sig?: Signature;
}

export type Ty =
  | { readonly k: "int"; readonly dim: Dim }
  | { readonly k: "float" }
  | { readonly k: "bool" }
  | { readonly k: "dtype"; readonly dtype: DType }
  | TensorTy
  | { readonly k: "mask" }
  | { readonly k: "list"; readonly items: readonly Ty[] }
  | { readonly k: "module"; readonly info: ModuleInfo } // a module name, before its hyperparameters
  | {
      readonly k: "instance";
      readonly label: string;
      readonly sig?: Signature;
      readonly subst: ReadonlyMap<string, Dim>;
      readonly implements?: string;
      readonly module?: ModuleInfo;
    }
  | { readonly k: "builtin"; readonly name: string }
  | { readonly k: "init" }
  | { readonly k: "unknown" }; // after an error: accepted everywhere, so one mistake reports once

export const UNKNOWN: Ty = { k: "unknown" };

export function fmtTensor(t: TensorTy): string {
  const dims = t.dims.map(printDim);
  if (t.rest !== undefined) dims.unshift("...");
  return `${t.dtype}[${dims.join(", ")}]`;
}

export function fmtTy(t: Ty): string {
  switch (t.k) {
    case "tensor":
      return fmtTensor(t);
    case "int":
      return `int (${printDim(t.dim)})`;
    case "dtype":
      return `dtype ${t.dtype}`;
    case "list":
      return `list of ${t.items.length}`;
    case "module":
      return `module ${t.info.name} (give its hyperparameters: ${t.info.name}(...))`;
    case "instance":
      return `module instance ${t.label}`;
    case "builtin":
      return `function ${t.name}`;
    case "init":
      return "initialiser";
    default:
      return t.k;
  }
}

export function sameTensor(a: TensorTy, b: TensorTy, known: ReadonlyMap<string, number>): boolean {
  return (
    a.dtype === b.dtype &&
    a.rest === b.rest &&
    a.dims.length === b.dims.length &&
    a.dims.every((d, i) => dimEq(d, b.dims[i], known))
  );
}
