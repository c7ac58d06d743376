// error.ts: why a model cannot be encoded chunk by chunk, as an error naming the op and the source line
// it was elaborated from (and, as a diagnostic M3008, the module calls that led there) — the streaming
// counterpart of compiler/decode/error.ts.
import type { NodeOrigin } from "../lower.js";
import type { Diagnostic, Sources } from "../../dsl/diagnostics.js";
import { type ErrorKind, type Located, originLocator } from "../decode/error.js";
import { MiraError } from "../../base/errors.js";

const PREFIX = "cannot derive a streaming encoder";

export class StreamError extends MiraError {
  readonly kind = "failure";
  override name = "StreamError";
  constructor(message: string, readonly diagnostic?: Diagnostic) {
    super(`${PREFIX}: ${message}`);
  }
}

export type StreamLocated = Located<StreamError>;

const STREAM: ErrorKind<StreamError> = {
  code: "M3008",
  prefix: PREFIX,
  hint: "streaming caches block-causal attention over chunks and carries a scan's state; other ops between the clip and the memory the text decoder reads must treat each chunk alone",
  make: (message, diagnostic) => new StreamError(message, diagnostic),
};

export function streamLocator(origins: ReadonlyMap<number, NodeOrigin>, sources?: Sources): StreamLocated {
  return originLocator(STREAM, origins, sources);
}
