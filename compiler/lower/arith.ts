// arith.ts: binary operators folded on static numbers, mapped to IR ops on tensors, `%` as floor-mod.
import type * as A from "../../dsl/ast.js";
import type { Node } from "../ir.js";
import { binary } from "../ops/helpers.js";
import type { NodeBuilder } from "../ops/spec.js";
import type { Elaborator } from "./eval.js";
import type { Val } from "./values.js";

export const BIN_OPS: Record<string, string> = {
  "+": "add",
  "-": "sub",
  "*": "mul",
  "/": "div",
  "==": "eq",
  "!=": "ne",
  "<": "lt",
  "<=": "le",
  ">": "gt",
  ">=": "ge",
};

/** a % b on float tensors, with the sign of b as in Python: a - floor(a / b) * b (existing ops only). */
export function floorMod(b: NodeBuilder, x: Node, y: Node): Node {
  return binary(b, "sub", x, binary(b, "mul", b.add("floor", [binary(b, "div", x, y)]), y));
}

export function staticArith(
  el: Elaborator,
  e: A.BinaryExpr,
  l: { k: "int" | "float"; v: number },
  r: { k: "int" | "float"; v: number },
): Val {
  const op = e.op;
  const ints = l.k === "int" && r.k === "int";
  switch (op) {
    case "+":
      return { k: ints ? "int" : "float", v: l.v + r.v };
    case "-":
      return { k: ints ? "int" : "float", v: l.v - r.v };
    case "*":
      return { k: ints ? "int" : "float", v: l.v * r.v };
    case "%":
      return { k: ints ? "int" : "float", v: l.v - Math.floor(l.v / r.v) * r.v }; // floor-mod, as on tensors
    case "/":
      if (!ints) return { k: "float", v: l.v / r.v };
      if (r.v === 0 || l.v % r.v !== 0) {
        const named =
          e.left.kind === "name" && e.right.kind === "name"
            ? `make '${e.left.name}' (${l.v}) a multiple of '${e.right.name}' (${r.v})`
            : "pick config values that divide evenly (e.g. d a multiple of heads)";
        el.fail("M3005", `${l.v} / ${r.v} is not a whole number`, named);
      }
      return { k: "int", v: l.v / r.v };
    case "==":
      return { k: "bool", v: l.v === r.v };
    case "!=":
      return { k: "bool", v: l.v !== r.v };
    case "<":
      return { k: "bool", v: l.v < r.v };
    case "<=":
      return { k: "bool", v: l.v <= r.v };
    case ">":
      return { k: "bool", v: l.v > r.v };
    case ">=":
      return { k: "bool", v: l.v >= r.v };
    default:
      return el.fail("M3006", `'${op}' needs tensors`);
  }
}
