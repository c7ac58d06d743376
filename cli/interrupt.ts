// interrupt.ts: Ctrl-C (SIGINT) and SIGTERM for long work — the first signal asks the work to stop at its
// next safe point (a training step, then a checkpoint); a second one, a second or more later, quits at
// once. A terminal sends SIGINT to the whole process group, and npm and the launcher forward it as well,
// so one key press arrives several times within milliseconds: those copies are one request. A job
// scheduler's SIGTERM is the same request, and the command then exits 143 (128 + 15) instead of 130.
import { EXIT } from "./errors.js";

const SAME_PRESS_MS = 1000;

export interface StopRequest {
  /** whether a stop has been requested */
  (): boolean;
  /** the exit code the stop deserves: 130 after SIGINT, 143 after SIGTERM */
  readonly exitCode: () => number;
}

/** Installs the handlers; the returned function says whether a stop has been requested. */
export function stopOnInterrupt(message: string): StopRequest {
  let first = 0;
  let code: number = EXIT.interrupted;
  const on = (signal: "SIGINT" | "SIGTERM", exitCode: number): void => {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      const now = Date.now();
      if (first === 0) {
        first = now;
        code = exitCode;
        process.stderr.write(`\n${message} (${signal === "SIGINT" ? "Ctrl-C" : "a signal"} again to quit at once)\n`);
      } else if (now - first > SAME_PRESS_MS) {
        process.exit(exitCode);
      }
    });
  };
  on("SIGINT", EXIT.interrupted);
  on("SIGTERM", EXIT.terminated);
  return Object.assign(() => first !== 0, { exitCode: () => code });
}
