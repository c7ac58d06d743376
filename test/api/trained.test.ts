// trained.test.ts: a checkpoint opened for eval, generate and ask (api/trained.ts) is read a tensor at a
// time, so one larger than a single read can hold (2 GiB: Mirasol 3b's is ≈ 12 GB in f32) opens, is
// checked against the model and loads its weights. Without a GPU: the loader writes into a stand-in that
// records what it was given.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { checkWeights, openTrained, weightLoader } from "../../api/trained.js";
import { initParams } from "../../compiler/lower.js";
import { CheckpointError, type TensorInfo, saveCheckpointStreaming } from "../../runtime/checkpoint.js";
import type { Executor } from "../../runtime/executor.js";

const dir = mkdtempSync(join(tmpdir(), "mira-trained-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PAD = 1.125 * 2 ** 30; // bytes in each of two padding tensors: the file passes 2 GiB, no tensor does

test("a checkpoint over 2 GiB opens, is checked against its model and loads its weights", async () => {
  const model = loadModel("models/char_lm.mira", { preset: "tiny" });
  const el = model.elaborate({ B: 1, T: 8 });
  const weights = new Map([...initParams(el.params, 3)].map(([name, v]) => [name, new Uint8Array(v.buffer)]));
  const infos = new Map<string, TensorInfo>(el.params.map((p) => [p.name, { dtype: "f32", shape: p.shape }]));
  const padding = ["zz_pad_0", "zz_pad_1"];
  for (const name of padding) infos.set(name, { dtype: "bool", shape: [PAD] });
  const path = join(dir, "large.safetensors");
  const zeros = new Uint8Array(PAD);
  const metadata = { model: "models/char_lm.mira", preset: "tiny", overrides: "[]", kind: "text" };
  await saveCheckpointStreaming(path, infos, async (n) => weights.get(n) ?? zeros, metadata);
  expect(statSync(path).size).toBeGreaterThan(2 * 2 ** 30);

  const t = openTrained(path, "text", "this test");
  expect(t.meta.model).toBe("models/char_lm.mira");
  checkWeights(t, el.params);
  const written = new Map<string, Uint8Array>();
  const standIn = {
    program: { params: el.params.map((p) => ({ name: p.name, dtype: "f32" })) },
    writeBytes: (name: string, bytes: Uint8Array) => written.set(name, bytes),
  } as unknown as Executor;
  weightLoader(t)(
    standIn,
    el.params.map((p) => p.name),
  );
  expect(written).toEqual(weights);
  // a name the checkpoint lacks is a located error, not a crash
  expect(() => weightLoader(t)(standIn, ["nope"])).toThrow(CheckpointError);
}, 120_000);
