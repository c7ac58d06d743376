// errors.ts: how the CLI ends. Exit codes scripts can trust: 0 ok; 1 the work failed (model errors,
// a failed self-test, a diverged run); 2 bad usage or unreadable input; 3 the environment is missing
// something (no GPU adapter, dependencies or ffmpeg not installed); 130 interrupted.
import { LimitError } from "../compiler/limits.js";
import { NoAdapterError } from "../runtime/device.js";
import { CheckpointError } from "../runtime/checkpoint.js";
import { InputError, ModelError } from "../api/model.js";
import { DataError } from "../datasets/av-format.js";
import { MissingToolError } from "../datasets/media.js";

export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3, interrupted: 130 } as const;

/** A mistake in the command line; the message says what to type instead. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** One readable line for any error (a stack only with --debug), and the exit code it deserves. */
export function describeFailure(e: unknown, debug: boolean): { text: string; code: number } {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = err instanceof UsageError || err instanceof InputError || err instanceof DataError ? EXIT.usage : err instanceof NoAdapterError || err instanceof MissingToolError ? EXIT.environment : EXIT.failed;
  // A model's diagnostics are already formatted (file:line:col, caret excerpt, hint): print them whole.
  if (err instanceof ModelError) return { text: err.message, code: EXIT.failed };
  const kind = err instanceof LimitError ? "does not fit this device: " : "";
  const first = `mira: ${kind}${err.message.split("\n")[0]}`;
  if (debug) return { text: `${first}\n${err.stack ?? ""}`, code };
  const expected = err instanceof UsageError || err instanceof InputError || err instanceof DataError || err instanceof NoAdapterError || err instanceof MissingToolError || err instanceof LimitError || err instanceof CheckpointError;
  const more = expected ? "" : " (run with --debug for details)";
  return { text: first + more, code };
}
