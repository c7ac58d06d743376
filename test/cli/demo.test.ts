// `npm start`'s demo end to end at a small size: data made, tiny Mirasol trained, accuracy beside
// chance, three held-out questions answered; and Ctrl-C (SIGINT to the process group, as a terminal
// sends it) stops after the current step with the checkpoint kept and exit code 130; and the repository's
// docs are left alone (`--figures` writes what the run measured to the file it names, nothing else).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { expect, test } from "vitest";
import { parseTypeStages } from "../../apps/mirasol/av.js";
import type { DemoFigures } from "../../apps/mirasol/demo-figures.js";
import { demoCurriculum } from "../../cli/commands/demo.js";

const root = join(import.meta.dirname, "..", "..");
const mira = join(root, "bin", "mira.js");

test("the demo trains, reports accuracy beside chance and answers three held-out questions", () => {
  const runs = mkdtempSync(join(tmpdir(), "mira-demo-"));
  // only `npm run demo:figures` writes the demo's figures into the docs; the demo itself writes none
  const docs = [join(root, "README.md"), join(root, "docs", "models.md")];
  // the demo's sections only: the rest of a doc may be edited while the test runs
  const sections = (): string[] =>
    docs.map(
      (f) => readFileSync(f, "utf8").split("<!-- bench:demo:start -->")[1]?.split("<!-- bench:demo:end -->")[0] ?? "",
    );
  const before = sections();
  const figures = join(runs, "figures.json");
  const r = spawnSync(
    process.execPath,
    [mira, "demo", "--steps", "6", "--clips", "40", "--runs", runs, "--figures", figures],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  expect(r.status, r.stderr).toBe(0);
  const out = r.stdout;
  expect(out).toMatch(/40 synthetic clips/);
  for (const type of ["colour_at_tone", "tone_after_colour", "count_beeps", "first_tone", "first_colour"])
    expect(out).toMatch(new RegExp(`${type} .*%\\s+chance \\d+\\.\\d%`));
  expect(out.match(/^ {2}clip \d+: .+ → /gm)).toHaveLength(3);
  expect(existsSync(join(runs, "demo", "checkpoint.safetensors"))).toBe(true);
  expect(r.stderr).not.toMatch(/warning/i);
  expect(sections()).toEqual(before);
  expect(before.every((s) => s.includes("mira demo"))).toBe(true);
  // --figures: what the run measured, as `npm run demo:figures` writes into the docs
  const measured = JSON.parse(readFileSync(figures, "utf8")) as DemoFigures;
  expect(measured).toMatchObject({ steps: 6, clips: 40, batch: 64, seed: 1, dataSeed: 0 });
  expect(measured.accuracy.map((a) => a.type)).toEqual(expect.arrayContaining(["count_beeps", "tone_after_colour"]));
  for (const a of measured.accuracy) expect(out).toContain(`${(100 * a.accuracy).toFixed(1)}%   chance`);
  expect(measured.stepMs).toBeGreaterThan(0);
}, 600_000);

test(
  "the demo's curriculum reads, and is the recipe's 100 / 400 of 2,000 steps brought forward: " + "100 / 300 of 500",
  () => {
    expect(demoCurriculum(500)).toBe(
      "first_colour,first_tone,count_beeps; nth_colour,when_colour,when_tone@100; all@300",
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 6 }), (steps) => {
        const stages = parseTypeStages(demoCurriculum(steps));
        expect(stages.map((s) => s.from)).toEqual([0, expect.any(Number), expect.any(Number)]);
        expect(stages[1].from).toBeGreaterThanOrEqual(1);
        // every stage begins within the run once it has 3 steps
        if (steps >= 3) expect(stages[2].from).toBeLessThan(steps);
      }),
    );
  },
);

test("Ctrl-C stops the demo after a step, keeps the checkpoint and exits 130", async () => {
  const runs = mkdtempSync(join(tmpdir(), "mira-demo-int-"));
  const child = spawn(process.execPath, [mira, "demo", "--steps", "100000", "--clips", "40", "--runs", runs], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const metrics = join(runs, "demo", "metrics.jsonl");
  const code = await new Promise<number | null>((resolve, reject) => {
    const poll = setInterval(() => {
      if (existsSync(metrics) && readFileSync(metrics, "utf8").includes('"step":10')) {
        clearInterval(poll);
        process.kill(-child.pid!, "SIGINT");
      }
    }, 50);
    child.on("exit", (c) => {
      clearInterval(poll);
      resolve(c);
    });
    child.on("error", reject);
  });
  expect(code).toBe(130);
  expect(out).toMatch(/stopped at step \d+; the checkpoint .* holds step \d+/);
  expect(existsSync(join(runs, "demo", "checkpoint.safetensors"))).toBe(true);
}, 600_000);
