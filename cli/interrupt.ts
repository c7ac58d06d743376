// interrupt.ts: Ctrl-C for long work — the first SIGINT asks the work to stop at its next safe point
// (a training step, then a checkpoint); a second one, a second or more later, quits at once. A terminal
// sends SIGINT to the whole process group, and npm and the launcher forward it as well, so one key
// press arrives several times within milliseconds: those copies are one request.
import { EXIT } from "./errors.js";

const SAME_PRESS_MS = 1000;

/** Installs the handler; the returned function says whether a stop has been requested. */
export function stopOnInterrupt(message: string): () => boolean {
  let first = 0;
  process.removeAllListeners("SIGINT");
  process.on("SIGINT", () => {
    const now = Date.now();
    if (first === 0) {
      first = now;
      process.stderr.write(`\n${message} (Ctrl-C again to quit at once)\n`);
    } else if (now - first > SAME_PRESS_MS) {
      process.exit(EXIT.interrupted);
    }
  });
  return () => first !== 0;
}
