// `mira eval --ablate audio|video` on a tiny Mirasol trained here for two steps. What is robust after two steps is
// the mechanism, not an accuracy gap: the ablated modality reaches the model as zeros while the other inputs are
// the plain run's, the model's logits change (it reads that modality), and the CLI reports exactly the API's
// ablated accuracies. An accuracy drop to chance on audio-only types needs a trained model; the synthetic set's
// design (datasets/synth-av.ts) makes their answers independent of the video, so that is what a long run shows.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { openTrained, weightedExecutor } from "../../../api/trained.js";
import { type TypeAccuracy, avBatchDims, evaluateAv, logitsRunner } from "../../../apps/mirasol/av.js";
import type { Batch } from "../../../runtime/trainer.js";
import { synthesize } from "../../../datasets/av-build.js";
import { loadAvDataset } from "../../../datasets/av-format.js";
import { TINY } from "../../../datasets/synth-av.js";
import { trainTinyMirasol } from "../../helpers/mirasol.js";

const root = join(import.meta.dirname, "..", "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mira-ablate-"));
const data = join(dir, "data");
let checkpoint = "";
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  synthesize({ out: data, clips: 30, seed: 5, config: TINY });
  const r = await trainTinyMirasol({ data, steps: 2, runsDir: dir, run: "ablate", logEvery: 1, evalBatches: 1 });
  checkpoint = r.checkpoint;
}, 600_000);

interface Seen {
  readonly inputs: Batch;
  readonly logits: Float64Array;
}

/** Evaluates the checkpoint's model on the val split as `mira eval` does, recording what it was fed and said. */
async function evalRecorded(ablate?: "audio" | "video"): Promise<{ seen: Seen[]; accuracy: TypeAccuracy[] }> {
  const trained = openTrained(checkpoint, "av-qa", "the ablation test");
  const ds = loadAvDataset(data);
  const batch = Number(trained.meta.batch);
  const el = trained.model.elaborate(avBatchDims(ds, batch));
  const out = el.graph.outputs.find((o) => o.name === (el.generate?.from ?? "logits"))!;
  const ex = await weightedExecutor(trained, el.graph, out);
  try {
    const run = logitsRunner(ex, out.name);
    const seen: Seen[] = [];
    const accuracy = await evaluateAv(
      ds,
      "val",
      batch,
      async (b) => {
        const logits = await run(b);
        seen.push({ inputs: { ...b }, logits: logits.slice() });
        return logits;
      },
      ablate,
    );
    return { seen, accuracy };
  } finally {
    ex.destroy();
  }
}

const allZero = (xs: ArrayLike<number>) => Array.from(xs).every((x) => x === 0);
const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test("--ablate zeroes exactly one modality, changes the logits, and the CLI reports the API's accuracies", async () => {
  const plain = await evalRecorded();
  expect(plain.seen.length).toBeGreaterThan(0);
  for (const s of plain.seen) {
    expect(allZero(s.inputs.spectrogram)).toBe(false);
    expect(allZero(s.inputs.video)).toBe(false);
  }
  const cases = [
    ["audio", "spectrogram", "video"],
    ["video", "video", "spectrogram"],
  ] as const;
  for (const [ablate, zeroed, kept] of cases) {
    const r = await evalRecorded(ablate);
    expect(r.seen.length).toBe(plain.seen.length);
    r.seen.forEach((s, i) => {
      const p = plain.seen[i];
      expect(allZero(s.inputs[zeroed]), `${ablate}: batch ${i}`).toBe(true);
      expect(s.inputs[kept]).toEqual(p.inputs[kept]);
      expect(s.inputs.text).toEqual(p.inputs.text);
    });
    // the model reads the modality: zeroing it moves some logit by more than rounding
    expect(Math.max(...r.seen.map((s, i) => maxDiff(s.logits, plain.seen[i].logits))), ablate).toBeGreaterThan(1e-4);
    expect(r.accuracy.map((a) => [a.type, a.questions, a.chance])).toEqual(
      plain.accuracy.map((a) => [a.type, a.questions, a.chance]),
    );
    if (ablate === "audio") {
      const cli = spawnSync(
        process.execPath,
        [
          join(root, "bin", "mira.js"),
          "eval",
          "--checkpoint",
          checkpoint,
          "--split",
          "val",
          "--ablate",
          "audio",
          "--json",
        ],
        { cwd: root, encoding: "utf8" },
      );
      expect(cli.status, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout)).toEqual({ split: "val", accuracy: r.accuracy });
    }
  }
  const bad = spawnSync(
    process.execPath,
    [join(root, "bin", "mira.js"), "eval", "--checkpoint", checkpoint, "--ablate", "text"],
    { cwd: root, encoding: "utf8" },
  );
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--ablate takes audio or video; got 'text'/);
}, 600_000);
