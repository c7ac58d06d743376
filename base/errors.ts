// errors.ts: the one error base. Every error mira throws on purpose is a MiraError whose kind says how
// a command that meets it ends; cli/errors.ts maps kinds to exit codes. A leaf: imports nothing.

/** How a failure ends a command, and so its exit code:
 *  - "bad-input" (2): the command line, or a file or model config it names, is wrong on every machine;
 *  - "setup" (3): this machine lacks what the same command needs (a GPU adapter, ffmpeg, a device limit);
 *  - "failure" (1): the work itself failed (a model that does not check, a diverged run, a bug);
 *  - "interrupted" (130): the user stopped it. */
export type ExitKind = "bad-input" | "setup" | "failure" | "interrupted";

export abstract class MiraError extends Error {
  abstract readonly kind: ExitKind;
}

/** The base of an error class whose only traits are its name and kind, so each such class is one line:
 *  `export class NoAdapterError extends errorOf("NoAdapterError", "setup") {}`. */
export function errorOf<K extends ExitKind>(errorName: string, kind: K) {
  return class extends MiraError {
    override name = errorName;
    readonly kind: K = kind;
  };
}

/** A broken invariant: a bug in mira, never the user's doing. Throw it through `bug`. */
export class InternalError extends errorOf("InternalError", "failure") {}

/** Throws an InternalError: `bug("fuse: group output shapes differ")`. Only for invariants the code
 *  itself keeps; anything a user can cause is a typed error whose message names the fix. */
export function bug(message: string): never {
  throw new InternalError(message);
}

/** The user stopped the work (Ctrl-C) where it could not stop cleanly. */
export class InterruptedError extends errorOf("InterruptedError", "interrupted") {}

/** An input that cannot be used: a file missing, unreadable or too short, or an argument out of range
 *  (a prompt longer than the caches, a tensor name the program lacks). One line naming the fix. */
export class InputError extends errorOf("InputError", "bad-input") {}
