// `mira generate --prompt` checks the checkpoint, the model and the device before it prints anything:
// a broken checkpoint leaves stdout empty and is one error line, exit 2 (bad input); a good one echoes
// the prompt, then the generated text.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { checkpointMetadata } from "../../api/train.js";
import { initParams } from "../../compiler/lower.js";
import { CharTokenizer } from "../../datasets/text.js";
import { type Checkpoint, type StoredTensor, saveCheckpoint } from "../../runtime/checkpoint.js";

const root = join(import.meta.dirname, "..", "..");
const mira = join(root, "bin", "mira.js");
const dir = mkdtempSync(join(tmpdir(), "mira-broken-"));

/** An untrained char_lm tiny checkpoint as `mira train` writes it, built without a GPU. */
function untrained(): Checkpoint {
  const model = loadModel(join(root, "models", "char_lm.mira"), { preset: "tiny" });
  const el = model.elaborate({ B: 1, T: 16 });
  const tensors = new Map<string, StoredTensor>();
  for (const [name, v] of initParams(el.params, 1)) {
    const p = el.params.find((x) => x.name === name)!;
    tensors.set(name, { dtype: "f32", shape: p.shape, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
  }
  const tokenizer = CharTokenizer.fromText("The quick brown fox jumps over the lazy dog.", 64);
  return {
    tensors,
    metadata: { ...checkpointMetadata(model, tokenizer, 16, 4, { steps: 1, lr: 1e-3, warmup: 0 }), step: "0" },
  };
}

function generate(c: Checkpoint, name: string): { status: number | null; stdout: string; stderr: string[] } {
  const path = join(dir, `${name}.safetensors`);
  saveCheckpoint(path, c);
  const r = spawnSync(
    process.execPath,
    [mira, "generate", "--checkpoint", path, "--prompt", "The ", "--max-tokens", "3"],
    { cwd: dir },
  );
  return {
    status: r.status,
    stdout: r.stdout.toString(),
    stderr: r.stderr.toString().trim().split("\n").filter(Boolean),
  };
}

const good = untrained();
const [first, firstTensor] = [...good.tensors][0];

test.each([
  ["a tensor missing", { ...good, tensors: new Map([...good.tensors].filter(([n]) => n !== first)) }, /has no tensor/],
  [
    "a tensor of another shape",
    {
      ...good,
      tensors: new Map([...good.tensors, [first, { ...firstTensor, shape: [firstTensor.bytes.byteLength / 4] }]]),
    },
    /is \[\d+\] but the model needs/,
  ],
  ["a damaged tokenizer", { ...good, metadata: { ...good.metadata, tokenizer: "{" } }, /tokenizer is not valid JSON/],
  [
    "a damaged window",
    { ...good, metadata: { ...good.metadata, window: "sixteen" } },
    /window 'sixteen' is not a whole number/,
  ],
] as [string, Checkpoint, RegExp][])(
  "a checkpoint with %s: nothing on stdout, one error line, exit 2",
  (name, c, message) => {
    const r = generate(c, name.replaceAll(" ", "-"));
    expect(r.stdout).toBe("");
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^mira: /);
    expect(r.stderr[0]).toMatch(message);
    expect(r.status).toBe(2);
  },
);

test("a good checkpoint echoes the prompt, then the generated text", () => {
  const r = generate(good, "good");
  expect(r.stderr).toEqual([]);
  expect(r.status).toBe(0);
  expect(r.stdout.startsWith("The ")).toBe(true);
});
