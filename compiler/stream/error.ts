// error.ts: why a model cannot be encoded chunk by chunk, as an error naming the op and the source line
// it was elaborated from (and, as a diagnostic M3008, the module calls that led there) — the streaming
// counterpart of compiler/decode/error.ts.
import { type Located, derivationError, derivationLocator } from "../decode/error.js";

const PREFIX = "cannot derive a streaming encoder";

export class StreamError extends derivationError("StreamError", PREFIX) {}

export type StreamLocated = Located<StreamError>;

export const streamLocator = derivationLocator(
  "M3008",
  PREFIX,
  "streaming caches block-causal attention over chunks and carries a scan's state; other ops between the " +
    "clip and the memory the text decoder reads must treat each chunk alone",
  StreamError,
);
