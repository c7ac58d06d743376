// errors.test.ts: describeFailure gives each error kind its exit code and its one line — bad input 2,
// setup 3, failure 1, interrupted 130; a bug asks to be reported; a stack only with --debug.
import { describe, expect, test } from "vitest";
import { InputError, InterruptedError, bug } from "../../base/errors.js";
import { ModelError } from "../../api/model.js";
import { EXIT, UsageError, describeFailure } from "../../cli/errors.js";
import { IrError } from "../../compiler/ir.js";
import { LimitError } from "../../compiler/limits.js";
import { DataError } from "../../datasets/av-format.js";
import { MissingToolError } from "../../datasets/media.js";
import { CheckpointError } from "../../runtime/checkpoint.js";
import { NoAdapterError } from "../../runtime/device.js";

const thrown = (f: () => void): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("nothing was thrown");
};

describe("describeFailure maps each kind to its exit code", () => {
  test.each([
    ["UsageError", new UsageError("unknown flag '--stpes'; did you mean '--steps'?")],
    ["InputError", new InputError("x.mira: no such file")],
    ["DataError", new DataError("clips/index.json: not a mira-av-qa data set")],
    ["CheckpointError", new CheckpointError("checkpoint c.safetensors is not a valid safetensors file: truncated")],
  ])("bad input (%s): exit 2, the message alone", (_, e) => {
    expect(describeFailure(e, false)).toEqual({ text: `mira: ${e.message}`, code: EXIT.usage });
  });

  test.each([
    ["NoAdapterError", new NoAdapterError("no WebGPU adapter; run 'npm run setup'")],
    ["MissingToolError", new MissingToolError("ffprobe is not installed")],
  ])("setup (%s): exit 3, the message alone", (_, e) => {
    expect(describeFailure(e, false)).toEqual({ text: `mira: ${e.message}`, code: EXIT.environment });
  });

  test("setup (LimitError): exit 3, saying the device is what falls short", () => {
    const e = new LimitError("tensor %84 needs 294.0 MiB, but this device binds at most 128.0 MiB per buffer");
    const text = `mira: does not fit this device: ${e.message}`;
    expect(describeFailure(e, false)).toEqual({ text, code: EXIT.environment });
  });

  test("failure: exit 1; a model's diagnostics print whole, other failures point at --debug", () => {
    const diagnostics = "m.mira:3:5 error M2001 unknown name 'x'\n  3 |   x\n    |   ^";
    expect(describeFailure(new ModelError(diagnostics), false)).toEqual({ text: diagnostics, code: EXIT.failed });
    expect(describeFailure(new IrError("add: shapes differ"), false)).toEqual({
      text: "mira: add: shapes differ (run with --debug for details)",
      code: EXIT.failed,
    });
    expect(describeFailure(new Error("EIO: i/o error\nmore"), false)).toEqual({
      text: "mira: EIO: i/o error (run with --debug for details)",
      code: EXIT.failed,
    });
    expect(describeFailure("a string", false).code).toBe(EXIT.failed);
  });

  test("failure (a bug): exit 1, an internal error that asks to be reported", () => {
    const e = thrown(() => bug("fuse: group output shapes differ"));
    expect(describeFailure(e, false)).toEqual({
      text:
        "mira: internal error: fuse: group output shapes differ" +
        " (please report it: run with --debug and include the output)",
      code: EXIT.failed,
    });
  });

  test("interrupted: exit 130", () => {
    const e = new InterruptedError("stopped before the first checkpoint");
    expect(describeFailure(e, false)).toEqual({ text: `mira: ${e.message}`, code: EXIT.interrupted });
  });

  test("--debug adds the stack and keeps the code", () => {
    const r = describeFailure(
      thrown(() => bug("broken")),
      true,
    );
    expect(r.code).toBe(EXIT.failed);
    expect(r.text.split("\n")[0]).toBe("mira: internal error: broken");
    expect(r.text).toMatch(/\n\s*InternalError: broken\n\s+at /);
  });
});
