// error.ts: why a model has no derived decoder, as an error naming the op and the source line it was
// elaborated from (and, as a diagnostic M3007, the module calls that led there).
import type { NodeOrigin } from "../lower.js";
import { type Diagnostic, type Sources, diag, positionOf, lineStarts, shownFile } from "../../dsl/diagnostics.js";
import type { Node } from "../ir.js";

const PREFIX = "cannot derive an incremental decoder";

export class DecodeError extends Error {
  override name = "DecodeError";
  constructor(message: string, readonly diagnostic?: Diagnostic) {
    super(`${PREFIX}: ${message}`);
  }
}

/** Builds errors located at a node's source. */
export interface Located {
  error(n: Node, what: string): DecodeError;
}

export function locator(origins: ReadonlyMap<number, NodeOrigin>, sources?: Sources): Located {
  const at = (span: NodeOrigin["span"]): string => {
    const text = sources?.get(span.file);
    const p = text === undefined ? undefined : positionOf(lineStarts(text), Math.min(span.start, text.length));
    return p ? `${shownFile(span.file)}:${p.line}:${p.col}` : shownFile(span.file);
  };
  return {
    error(n, what) {
      const o = origins.get(n.id);
      if (!o) return new DecodeError(`${n.op} ${what}`);
      // Innermost call first, as elaboration errors print them: the user's line is the last note.
      const notes = [...o.calls].reverse().map((c) => ({ span: c.span, message: `in ${c.module}, called here` }));
      const d: Diagnostic = { ...diag("M3007", o.span, `${PREFIX}: ${n.op} ${what}`, "generation can cache causal self-attention; other ops between the generated input and the generated output must treat each position alone"), ...(notes.length ? { notes } : {}) };
      const user = o.calls.length ? ` (${o.calls.map((c) => `${c.module} called at ${at(c.span)}`).join(", ")})` : "";
      return new DecodeError(`${n.op} at ${at(o.span)}${user} ${what}`, d);
    },
  };
}
