// errors.ts: how the CLI ends. Exit codes scripts can trust, one per error kind (base/errors.ts):
// 0 ok; 1 the work failed (model errors, a failed self-test, a diverged run, a bug); 2 bad usage or
// input (a flag, a data set, a checkpoint); 3 this machine lacks something (no GPU adapter, ffmpeg,
// a device limit); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM), after the same clean stop.
import { type ExitKind, InternalError, MiraError } from "../base/errors.js";
import { ModelError } from "../api/model.js";
import { LimitError } from "../compiler/limits.js";

export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3, interrupted: 130, terminated: 143 } as const;

export const EXIT_CODE: Readonly<Record<ExitKind, number>> = {
  "bad-input": EXIT.usage,
  setup: EXIT.environment,
  failure: EXIT.failed,
  interrupted: EXIT.interrupted,
};

/** A mistake in the command line; the message says what to type instead. */
export class UsageError extends MiraError {
  readonly kind = "bad-input";
  override name = "UsageError";
}

/** One readable line for any error (a stack only with --debug), and the exit code its kind deserves. */
export function describeFailure(e: unknown, debug: boolean): { text: string; code: number } {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = EXIT_CODE[err instanceof MiraError ? err.kind : "failure"];
  // A model's diagnostics are already formatted (file:line:col, caret excerpt, hint): print them whole.
  if (err instanceof ModelError) return { text: err.message, code };
  const what =
    err instanceof InternalError ? "internal error: " : err instanceof LimitError ? "does not fit this device: " : "";
  const first = `mira: ${what}${err.message.split("\n")[0]}`;
  if (debug) return { text: `${first}\n${err.stack ?? ""}`, code };
  // Errors of a known kind name their fix; a failure without one, or a bug, needs the stack to act on.
  const more =
    err instanceof InternalError
      ? " (please report it: run with --debug and include the output)"
      : err instanceof MiraError && err.kind !== "failure"
        ? ""
        : " (run with --debug for details)";
  return { text: first + more, code };
}
