// Evaluating a checkpoint at other sizes (apps/mirasol/resize.ts, `mira eval --set`): a tiny Mirasol trained on
// 2-chunk clips answers 4-chunk clips with `chunks=4` (its parameters keep their shapes), and overrides
// that would change a parameter, or that are not integer sizes, are refused naming what changes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { evaluate } from "../../../apps/mirasol/eval.js";
import { InputError } from "../../../api/model.js";
import { synthesize } from "../../../datasets/av-build.js";
import { QUESTION_TYPE_NAMES, TINY } from "../../../datasets/synth-av.js";
import { trainTinyMirasol } from "../../helpers/mirasol.js";

const root = join(import.meta.dirname, "..", "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mira-eval-sizes-"));
const short = join(dir, "short");
const long = join(dir, "long");
let checkpoint = "";
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  synthesize({ out: short, clips: 30, seed: 3, config: TINY });
  synthesize({ out: long, clips: 30, seed: 3, config: { ...TINY, chunks: 4 } });
  const r = await trainTinyMirasol({ data: short, steps: 2, runsDir: dir, run: "short", logEvery: 1, evalBatches: 1 });
  checkpoint = r.checkpoint;
}, 600_000);

test("a model trained on 2 chunks is evaluated on 4-chunk clips with chunks=4; " +
  "without it the data's shape is refused", async () => {
  await expect(evaluate({ checkpoint, data: long, split: "val" })).rejects.toThrow(
    /video is \[B, 8, 16, 16, 3\] per example but the data has \[16, 16, 16, 3\]/,
  );
  const r = await evaluate({ checkpoint, data: long, split: "val", set: ["chunks=4"] });
  expect(r.accuracy.map((a) => a.type).sort()).toEqual([...QUESTION_TYPE_NAMES].sort());
  for (const a of r.accuracy) expect(a.questions).toBeGreaterThan(0);
  // the trained size given explicitly changes nothing
  expect(await evaluate({ checkpoint, split: "val", set: ["chunks=2"] })).toEqual(
    await evaluate({ checkpoint, split: "val" }),
  );
}, 600_000);

test.each([
  [["d=16"], /parameter '.*' would be \[.*16.*\] but .* holds \[.*32.*\]/],
  [["max_chunks=32"], /parameter 'ar\.chunk_positions' would be \[32, 32\] but .* holds \[16, 32\]/],
  [["ar_depth=2"], /the model has a parameter 'ar\.blocks\.1\..*' .* that .* lacks/],
  [["ar_depth=0"], /the model has no parameter 'ar\.blocks\.0\..*', which .* holds/],
  [["lambda_latent=0.5"], /only integer sizes can change .* 'lambda_latent' is float/],
  [["combiner=Concat"], /only integer sizes can change .* 'combiner' is Combiner/],
])(
  "--set %j is refused",
  async (set, message) => {
    const e = await evaluate({ checkpoint, split: "val", set }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(message);
  },
  120_000,
);

test("mira eval --set chunks=4 prints the accuracy at that size; a shape-changing --set exits 2 with the fix", () => {
  const mira = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [join(root, "bin", "mira.js"), "eval", "--checkpoint", checkpoint, "--split", "val", ...args],
      { cwd: root, encoding: "utf8" },
    );
  const ok = mira("--data", long, "--set", "chunks=4");
  expect(ok.status, ok.stderr).toBe(0);
  expect(ok.stdout).toMatch(/^exact-match accuracy on the val split \(model at chunks=4\):\n/);
  expect(ok.stdout).toMatch(/first_colour .*%\s+\(chance .*%, \d+ questions\)/);
  const bad = mira("--set", "d=16");
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(
    new RegExp(
      /^mira: with --set d=16 parameter .* would be .*; only sizes that keep every parameter's /.source +
        /shape .* can change when evaluating\n$/.source,
    ),
  );
}, 600_000);
