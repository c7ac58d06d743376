// error.ts: why a model cannot be encoded chunk by chunk, as an error naming the op and the source line
// it was elaborated from (and, as a diagnostic M3008, the module calls that led there) — the streaming
// counterpart of compiler/decode/error.ts.
import type { NodeOrigin } from "../lower.js";
import { type Diagnostic, type Sources, diag, lineStarts, positionOf, shownFile } from "../../dsl/diagnostics.js";
import type { Node } from "../ir.js";

const PREFIX = "cannot derive a streaming encoder";

export class StreamError extends Error {
  override name = "StreamError";
  constructor(message: string, readonly diagnostic?: Diagnostic) {
    super(`${PREFIX}: ${message}`);
  }
}

export interface StreamLocated {
  error(n: Node, what: string): StreamError;
}

export function streamLocator(origins: ReadonlyMap<number, NodeOrigin>, sources?: Sources): StreamLocated {
  const at = (span: NodeOrigin["span"]): string => {
    const text = sources?.get(span.file);
    const p = text === undefined ? undefined : positionOf(lineStarts(text), Math.min(span.start, text.length));
    return p ? `${shownFile(span.file)}:${p.line}:${p.col}` : shownFile(span.file);
  };
  return {
    error(n, what) {
      const o = origins.get(n.id);
      if (!o) return new StreamError(`${n.op} ${what}`);
      const notes = [...o.calls].reverse().map((c) => ({ span: c.span, message: `in ${c.module}, called here` }));
      const d: Diagnostic = {
        ...diag("M3008", o.span, `${PREFIX}: ${n.op} ${what}`, "streaming caches block-causal attention over chunks and carries a scan's state; other ops between the clip and the memory the text decoder reads must treat each chunk alone"),
        ...(notes.length ? { notes } : {}),
      };
      const user = o.calls.length ? ` (${o.calls.map((c) => `${c.module} called at ${at(c.span)}`).join(", ")})` : "";
      return new StreamError(`${n.op} at ${at(o.span)}${user} ${what}`, d);
    },
  };
}
