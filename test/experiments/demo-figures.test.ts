// README's and docs/models.md's demo figures: text computed from what one demo run measured, and
// written between markers that leave the rest of each file alone.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import type { DemoFigures } from "../../apps/mirasol/demo-figures.js";
import { demoModels, demoReadme, duration } from "../../bench/experiments/demo-figures.js";
import { writeSection } from "../../bench/report.js";

const figures: DemoFigures = {
  date: "2026-12-06",
  adapter: "llvmpipe",
  software: true,
  cores: 2,
  load: [2.5, 2.1, 1.9],
  model: "models/mirasol.mira",
  preset: "tiny",
  set: ["chunks=4", "frames=2"],
  params: 123456,
  clips: 4000,
  dataSeed: 0,
  questions: 48000,
  steps: 500,
  batch: 64,
  lr: 0.003,
  seed: 1,
  types: "first_colour; all@300",
  stepMs: 512.4,
  trainSeconds: 256.2,
  wallSeconds: 301,
  accuracy: [
    { type: "count_beeps", needs: ["audio"], questions: 400, accuracy: 1, chance: 0.245 },
    // 2.5 points over chance on 800 questions is within two standard errors (3.5 points)
    { type: "tone_after_colour", needs: ["audio", "video"], questions: 800, accuracy: 0.525, chance: 0.5 },
  ],
};

test("the verdicts follow the figures: a type within sampling noise of chance is not called above it", () => {
  expect(demoReadme(figures)).toContain(
    "above chance: count_beeps 100.0 % (chance 24.5); not above chance: tone_after_colour 52.5 % (chance 50.0).",
  );
  expect(demoModels(figures)).toContain("1 of the 2 types are.");
  for (const text of [demoReadme(figures), demoModels(figures)]) {
    expect(text).not.toMatch(/every type/i);
    expect(text).toContain("one run of one training seed (1)");
    expect(text).toContain("not comparable with the paper's");
    expect(text).toContain("5 min 1 s in all, 4 min 16 s of it training (512 ms a step)");
  }
  const all = { ...figures, accuracy: [figures.accuracy[0]] };
  expect(demoReadme(all)).toContain("every type is above chance: count_beeps 100.0 % (chance 24.5).");
  expect(demoModels(figures)).toContain("| tone_after_colour | audio+video | 800 | 52.5 | 50.0 | no |");
  expect(demoReadme(figures)).toContain("4,000 synthetic clips");
  expect(duration(59.4)).toBe("59 s");
});

test("writing the section replaces what is between its markers and nothing else", () => {
  const file = join(mkdtempSync(join(tmpdir(), "mira-demo-figures-")), "README.md");
  writeFileSync(file, "# title\n\n<!-- bench:demo:start -->\nold figures\n<!-- bench:demo:end -->\n\nafter\n");
  writeSection("demo", demoReadme(figures), file);
  const text = readFileSync(file, "utf8");
  expect(text).not.toContain("old figures");
  expect(text.startsWith("# title\n\n<!-- bench:demo:start -->\nThe demo")).toBe(true);
  expect(text.endsWith("<!-- bench:demo:end -->\n\nafter\n")).toBe(true);
});
