// cli-support.test.ts: the functions `mira check|fmt|compile --emit params|ir` call return the text
// and exit codes the CLI prints.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { emitElaborated } from "../../compiler/compile-support.js";
import { checkFile, formatFile } from "../../dsl/cli-support.js";
import { MODELS, readModel } from "./harness.js";

const lm = path.join(MODELS, "char_lm.mira");

function tempModel(name: string, text: string): string {
  // Next to the real models so `import std.nn` resolves.
  const dir = fs.mkdtempSync(path.join(MODELS, ".tmp-"));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("checkFile", () => {
  test("exit 0 on char_lm; JSON lists no diagnostics", () => {
    expect(checkFile(lm)).toEqual({ output: `${lm}: ok (model CharLM)`, exitCode: 0 });
    const j = checkFile(lm, { json: true, preset: "tiny" });
    expect(JSON.parse(j.output)).toEqual({ ok: true, model: "CharLM", diagnostics: [] });
  });

  test("exit 1 with located errors for a shape error and a bad override", () => {
    const file = tempModel("bad.mira", readModel("char_lm.mira").replace("head(norm(x))", "norm(x) @ norm(x)"));
    try {
      const r = checkFile(file, { set: ["heads=2.5"] });
      expect(r.exitCode).toBe(1);
      expect(r.output).toMatch(
        /bad\.mira:\d+:\d+ error M2104 matmul inner dimensions differ: f32\[B, T, d\] @ f32\[B, T, d\]/,
      );
      expect(r.output).toContain("--set heads=2.5:1:7 error M2103");
      const j = JSON.parse(checkFile(file, { json: true }).output);
      expect(j.diagnostics.filter((d: { severity: string }) => d.severity === "error")).toMatchObject([
        { code: "M2104", file },
      ]);
      // `head` is no longer called: its parameters would vanish, which is worth a warning.
      expect(j.diagnostics).toContainEqual(
        expect.objectContaining({
          code: "M2303",
          severity: "warning",
          message: "'head' is a Linear instance that is never called, so its parameters would not exist",
        }),
      );
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true });
    }
  });

  test("exit 2 for a missing file", () => expect(checkFile("no/such.mira").exitCode).toBe(2));
});

describe("formatFile", () => {
  test("--check passes on canonical files and fails on others; --write fixes them", () => {
    expect(formatFile(lm, { check: true }).exitCode).toBe(0);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mira-")), "a.mira");
    fs.writeFileSync(file, "model M{config{d=1}\n// c\ninput t:i32[B]   output o=t}");
    expect(formatFile(file, { check: true }).exitCode).toBe(1);
    expect(formatFile(file, { write: true })).toEqual({ output: `${file}: reformatted`, exitCode: 0 });
    expect(fs.readFileSync(file, "utf8")).toBe(
      "model M {\n  config {\n    d = 1\n  }\n  // c\n  input t: i32[B]\n  output o = t\n}\n",
    );
    expect(formatFile(file, { check: true }).exitCode).toBe(0);
  });
});

describe("emitElaborated", () => {
  test("--emit params lists names, shapes and the total without batch sizes", () => {
    const r = emitElaborated(lm, { preset: "tiny", emit: "params" });
    expect(r.exitCode).toBe(0);
    expect(r.output).toMatch(/^embed\.table\s+f32\[96, 32\]\s+normal$/m);
    expect(r.output.split("\n").at(-1)).toBe(
      `22 tensors, ${r.elaborated!.paramCount.toLocaleString("en-US")} parameters`,
    );
  });

  test("--emit ir prints the graph; an unbound batch dim is an error", () => {
    expect(emitElaborated(lm, { emit: "ir", batch: { B: 1, T: 4 } }).output).toContain("output logits");
    const r = emitElaborated(lm, { emit: "ir", batch: { B: 1 } });
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain("M3004 batch dimension 'T' has no size");
  });
});
