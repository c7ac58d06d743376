// error.ts: why a model has no derived decoder, as an error naming the op and the source line it was
// elaborated from (and, as a diagnostic M3007, the module calls that led there).
import type { NodeOrigin } from "../lower.js";
import {
  type Diagnostic,
  type KnownCode,
  type Sources,
  diag,
  positionOf,
  lineStarts,
  shownFile,
} from "../../dsl/diagnostics.js";
import type { Node } from "../ir.js";
import { MiraError } from "../../base/errors.js";

const PREFIX = "cannot derive an incremental decoder";

/** The base of a derivation's error class: a failure whose message starts with the derivation's prefix,
 *  with the diagnostic that locates it. */
export function derivationError(errorName: string, prefix: string) {
  return class extends MiraError {
    readonly kind = "failure";
    override name = errorName;
    constructor(
      message: string,
      readonly diagnostic?: Diagnostic,
    ) {
      super(`${prefix}: ${message}`);
    }
  };
}

export class DecodeError extends derivationError("DecodeError", PREFIX) {}

/** Builds errors located at a node's source. */
export interface Located<E extends Error = DecodeError> {
  error(n: Node, what: string): E;
}

/** What a derivation's errors say: their code, the message prefix and hint, and the error class. */
export interface ErrorKind<E extends Error> {
  readonly code: KnownCode;
  readonly prefix: string;
  readonly hint: string;
  make(message: string, diagnostic?: Diagnostic): E;
}

/** Errors of one kind located at each node's .mira source, with the module calls that led there. */
export function originLocator<E extends Error>(
  kind: ErrorKind<E>,
  origins: ReadonlyMap<number, NodeOrigin>,
  sources?: Sources,
): Located<E> {
  const at = (span: NodeOrigin["span"]): string => {
    const text = sources?.get(span.file);
    const p = text === undefined ? undefined : positionOf(lineStarts(text), Math.min(span.start, text.length));
    return p ? `${shownFile(span.file)}:${p.line}:${p.col}` : shownFile(span.file);
  };
  return {
    error(n, what) {
      const o = origins.get(n.id);
      if (!o) return kind.make(`${n.op} ${what}`);
      // Innermost call first, as elaboration errors print them: the user's line is the last note.
      const notes = [...o.calls].reverse().map((c) => ({ span: c.span, message: `in ${c.module}, called here` }));
      const d: Diagnostic = {
        ...diag(kind.code, o.span, `${kind.prefix}: ${n.op} ${what}`, kind.hint),
        ...(notes.length ? { notes } : {}),
      };
      const user = o.calls.length ? ` (${o.calls.map((c) => `${c.module} called at ${at(c.span)}`).join(", ")})` : "";
      return kind.make(`${n.op} at ${at(o.span)}${user} ${what}`, d);
    },
  };
}

/** A derivation's locator: its errors, of class `Err`, carry diagnostic `code` with the prefix and hint. */
export function derivationLocator<E extends Error>(
  code: KnownCode,
  prefix: string,
  hint: string,
  Err: new (message: string, diagnostic?: Diagnostic) => E,
): (origins: ReadonlyMap<number, NodeOrigin>, sources?: Sources) => Located<E> {
  const kind: ErrorKind<E> = { code, prefix, hint, make: (message, diagnostic) => new Err(message, diagnostic) };
  return (origins, sources) => originLocator(kind, origins, sources);
}

export const locator = derivationLocator(
  "M3007",
  PREFIX,
  "generation can cache causal self-attention; other ops between the generated input and the generated " +
    "output must treat each position alone",
  DecodeError,
);
