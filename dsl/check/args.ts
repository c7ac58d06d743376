// args.ts: matching a call's positional and named arguments to parameter slots, shared by builtins,
// module hyperparameters and module inputs.
import type * as A from "../ast.js";
import { closest } from "../diagnostics.js";
import type { Ctx } from "./env.js";

export interface Slot {
  readonly name: string;
  readonly optional?: boolean;
}

/** Argument expressions by slot (undefined where omitted); reports M2101/M2102. */
export function bindArgs(
  ctx: Ctx,
  args: readonly A.Arg[],
  slots: readonly Slot[],
  callee: string,
  span: A.Span,
): (A.Arg | undefined)[] | undefined {
  const out: (A.Arg | undefined)[] = slots.map(() => undefined);
  let ok = true;
  let pos = 0;
  for (const a of args) {
    if (!a.name) {
      if (pos >= slots.length) {
        ctx.report(
          "M2101",
          a.span,
          `${callee} takes ${slots.length} argument${slots.length === 1 ? "" : "s"}, got ${args.length}`,
          `remove the extra argument${slots.length ? `; it takes (${slots.map((s) => s.name).join(", ")})` : ""}`,
        );
        ok = false;
        break;
      }
      out[pos++] = a;
      continue;
    }
    const i = slots.findIndex((s) => s.name === a.name!.name);
    if (i < 0) {
      const near = closest(
        a.name.name,
        slots.map((s) => s.name),
      );
      ctx.report(
        "M2102",
        a.name.span,
        `${callee} has no parameter '${a.name.name}'`,
        near ? `did you mean '${near}'?` : `its parameters are (${slots.map((s) => s.name).join(", ")})`,
      );
      ok = false;
    } else if (out[i]) {
      ctx.report("M2102", a.name.span, `argument '${a.name.name}' of ${callee} given twice`, "remove one of them");
      ok = false;
    } else out[i] = a;
  }
  if (!ok) return undefined;
  const missing = slots.filter((s, i) => !s.optional && !out[i]);
  if (missing.length) {
    ctx.report(
      "M2101",
      span,
      `${callee} is missing argument${missing.length > 1 ? "s" : ""} ${missing.map((m) => `'${m.name}'`).join(", ")}`,
      `it takes (${slots.map((s) => (s.optional ? `${s.name}?` : s.name)).join(", ")})`,
    );
    return undefined;
  }
  return out;
}
