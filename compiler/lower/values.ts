// values.ts: what the elaborator computes with — static numbers, IR tensors, masks, module
// instances — plus the scope chain and the abort that turns an elaboration error into a diagnostic
// (and the unknown value that stands in for what a failed statement would have bound).
import type * as A from "../../dsl/ast.js";
import type { Diagnostic } from "../../dsl/diagnostics.js";
import type { DType } from "../dtype.js";
import type { MaskSpec, Node } from "../ir.js";

export type InitSpec =
  | { readonly kind: "zeros" }
  | { readonly kind: "ones" }
  | { readonly kind: "constant"; readonly value: number }
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "uniform"; readonly lo: number; readonly hi: number }
  | { readonly kind: "xavier" };

export interface Instance {
  readonly k: "instance";
  readonly decl: A.ModuleDecl;
  readonly hypers: ReadonlyMap<string, Val>;
  /** Dotted prefix of this instance's parameters (`layers.3.attn`). */
  readonly path: string;
  /** Parameters created on first use, so calling an instance twice shares its weights. */
  readonly params: Map<string, Node>;
}

export type Val =
  | { readonly k: "int"; readonly v: number }
  | { readonly k: "float"; readonly v: number }
  | { readonly k: "bool"; readonly v: boolean }
  | { readonly k: "dtype"; readonly dtype: DType }
  | { readonly k: "tensor"; readonly node: Node }
  | { readonly k: "mask"; readonly spec: MaskSpec; readonly lengths?: Node }
  | { readonly k: "list"; readonly items: readonly Val[] }
  | { readonly k: "module"; readonly decl: A.ModuleDecl }
  | Instance
  | { readonly k: "builtin"; readonly name: string }
  | { readonly k: "init"; readonly init: InitSpec }
  /** what a statement that failed would have bound: reading it ends the reader's statement silently */
  | { readonly k: "unknown" };

export const UNKNOWN: Val = { k: "unknown" };

/** Ends the statement being elaborated with one located diagnostic, or with none when it only read a
 *  value whose statement already failed (its error is reported once); caught only by `elaborate`. */
export class ElabAbort {
  constructor(readonly diagnostic?: Diagnostic) {}
}

export class Env {
  private readonly vars = new Map<string, Val>();
  /** Anonymous instance names already taken under this path (`linear`, `linear_1`). */
  readonly taken: Set<string>;

  /** The instance whose body this scope belongs to (its params are created under its path). */
  readonly owner: Instance | undefined;

  constructor(
    readonly parent: Env | undefined,
    readonly path: string,
    readonly soleAnonymous = false,
    owner?: Instance,
  ) {
    this.taken = parent && parent.path === path ? parent.taken : new Set();
    this.owner = owner ?? parent?.owner;
  }

  get(name: string): Val | undefined {
    for (let e: Env | undefined = this; e; e = e.parent) {
      const v = e.vars.get(name);
      if (v) return v;
    }
    return undefined;
  }

  define(name: string, v: Val): void {
    this.vars.set(name, v);
  }

  /** Updates the binding where it lives (assignment to an outer variable from a loop body). */
  assign(name: string, v: Val): void {
    for (let e: Env | undefined = this; e; e = e.parent) {
      if (e.vars.has(name)) {
        e.vars.set(name, v);
        return;
      }
    }
    this.vars.set(name, v);
  }
}

export const joinPath = (a: string, b: string): string => (a === "" ? b : b === "" ? a : `${a}.${b}`);

export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

export function describeVal(v: Val): string {
  switch (v.k) {
    case "tensor":
      return `${v.node.dtype}[${v.node.shape.join(", ")}]`;
    case "int":
    case "float":
      return `${v.k} ${v.v}`;
    case "instance":
      return `instance of ${v.decl.name.name}`;
    default:
      return v.k;
  }
}
