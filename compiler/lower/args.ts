// args.ts: binds a call's arguments to the callee's slots, and a signature's dim names to concrete sizes.
import type * as A from "../../dsl/ast.js";
import type { Elaborator } from "./eval.js";
import type { Env, Val } from "./values.js";

export interface Arg {
  readonly name?: string;
  readonly value: Val;
}

export function bindSlots(el: Elaborator, args: readonly Arg[], slots: readonly string[]): (Val | undefined)[] {
  const out: (Val | undefined)[] = slots.map(() => undefined);
  let pos = 0;
  for (const a of args) {
    const i = a.name === undefined ? pos++ : slots.indexOf(a.name);
    if (i < 0 || i >= slots.length) el.fail("M3006", `unexpected argument${a.name ? ` '${a.name}'` : ""}`);
    out[i] = a.value;
  }
  return out;
}

/** Binds a signature's free dim names (`B`, `T`) from an argument's concrete shape. */
export function bindDims(env: Env, dims: readonly A.DimItem[], shape: readonly number[]): void {
  const rest = dims[0]?.kind === "rest";
  const named = rest ? dims.slice(1) : dims;
  const off = shape.length - named.length;
  named.forEach((d, i) => {
    if (d.kind === "name" && !env.get(d.name) && shape[off + i] !== undefined)
      env.define(d.name, { k: "int", v: shape[off + i] });
  });
}
