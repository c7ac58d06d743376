// large-model-path.test.ts: the path `npm run bench:3b` takes with Mirasol3B, at tiny width so that it
// runs in seconds — values stored in f16, the binding size lowered to 4 KiB so that weights, inputs and
// activations are bound as windows, weights from the initialisers written one tensor at a time, a prefill
// and greedy cached steps by the derived decoder, then the weights saved as a streamed checkpoint and
// loaded back one tensor at a time. The answer with windows equals the answer without; after the reload
// it is the same again.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { openIncremental } from "../../api/decoder.js";
import { loadModel } from "../../api/model.js";
import { initParam } from "../../compiler/lower.js";
import { openCheckpoint, saveCheckpointStreaming } from "../../runtime/checkpoint.js";
import type { WeightLoader } from "../../runtime/decode.js";
import type { Gpu } from "../../runtime/device.js";
import { GREEDY } from "../../runtime/sampling.js";
import { testGpu } from "../helpers/gpu.js";

const QUESTION = 5;
const LENGTH = 10;

describe("a large model's path at tiny width", () => {
  test("f16, windows of 4 KiB, weights one at a time, a streamed checkpoint: the same answers", async () => {
    const model = loadModel("models/mirasol.mira", { preset: "tiny", set: ["precision=f16"] });
    const el = model.elaborate({ B: 1, L: LENGTH });
    expect(el.params.every((p) => p.dtype === "f16")).toBe(true);
    const byName = new Map(el.params.map((p) => [p.name, p]));
    let written = 0;
    const load: WeightLoader = (ex, names) => {
      for (const name of names) {
        ex.write(name, initParam(byName.get(name)!, 7));
        written++;
      }
    };
    const size = (name: string) => el.inputs.find((i) => i.name === name)!.shape.reduce((a, b) => a * b, 1);
    const clip = {
      video: Float32Array.from({ length: size("video") }, (_, k) => Math.sin(k * 0.37) * 0.5 + 0.5),
      spectrogram: Float32Array.from({ length: size("spectrogram") }, (_, k) => Math.cos(k * 0.11)),
    };
    const question = Int32Array.from({ length: LENGTH - 1 }, (_, k) => (k < QUESTION ? 3 + ((k * 11) % 50) : 0));
    const real = await testGpu();
    const windowed: Gpu = { ...real, limits: { ...real.limits, maxStorageBufferBindingSize: 4096 } };

    const answerWith = async (gpu: Gpu, reload?: string) => {
      const dec = await openIncremental(gpu, model, { maxLen: LENGTH - 1, load, lengths: true });
      try {
        const answer = async () => {
          let out = await dec.prefillSample(question, { sampling: GREEDY, step: 0 }, clip, [QUESTION]);
          const tokens = [out.tokens[0]];
          for (let step = 1; step < LENGTH - QUESTION - 1; step++) {
            out = await dec.stepSample([tokens.at(-1)!], { sampling: GREEDY, step });
            tokens.push(out.tokens[0]);
          }
          return tokens;
        };
        const first = await answer();
        if (!reload) return { first };
        // save every weight, one tensor at a time; overwrite them with junk; load them back
        const holders = dec.weightHolders();
        const infos = new Map(
          [...holders].map(([n, ex]) => {
            const p = ex.program.params.find((x) => x.name === n)!;
            return [n, { dtype: p.dtype, shape: p.shape }] as const;
          }),
        );
        await saveCheckpointStreaming(
          reload,
          infos,
          async (n) => {
            const bytes = infos.get(n)!.shape.reduce((a, d) => a * d, 1) * 2;
            return new Uint8Array(await holders.get(n)!.readBytes(n, false), 0, bytes);
          },
          {},
        );
        for (const [n, ex] of holders) ex.write(n, new Float32Array(byName.get(n)!.shape.reduce((a, d) => a * d, 1)));
        const r = openCheckpoint(reload);
        for (const [n, ex] of holders) ex.writeBytes(n, r.read(n));
        r.close();
        const executors = new Set(holders.values());
        const windows = [...executors].some((ex) => ex.program.dispatches.some((d) => d.ranges !== undefined));
        return { first, again: await answer(), programs: holders.size, windows };
      } finally {
        dec.destroy();
      }
    };

    const whole = await answerWith(real);
    const path = join(mkdtempSync(join(tmpdir(), "mira-large-")), "w.safetensors");
    const split = await answerWith(windowed, path);
    expect(written).toBeGreaterThan(0);
    expect(split.windows).toBe(true);
    expect(split.first).toEqual(whole.first);
    expect(split.again).toEqual(split.first);
    expect(openCheckpoint(path).infos.size).toBe(split.programs);
  });
});
