// demo-figures.ts (experiments): README's and docs/models.md's demo figures as text, from what one demo
// run measured (`mira demo --figures FILE`); `npm run demo:figures` (bench/demo.ts) writes them between
// markers. Every verdict is computed from the figures, so the prose cannot claim more than the run shows.
import type { DemoFigures } from "../../apps/mirasol/demo-figures.js";
import { aboveChance, listWords, pct } from "./summary.js";

export const DEMO_FIGURES_COMMAND = "npm run demo:figures";

const count = (n: number): string => n.toLocaleString("en-US");

/** "4 min 12 s", or "52 s" under a minute. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const typeFigure = (a: DemoFigures["accuracy"][number]): string =>
  `${a.type} ${pct(a.accuracy)} % (chance ${pct(a.chance)})`;

/** Where and how it ran, and what it cost. */
function provenance(f: DemoFigures): string {
  return (
    `on ${f.date}, on ${f.adapter}${f.software ? " (a software adapter, on the CPU)" : ""} with ${f.cores} ` +
    `cores, load average ${f.load.map((x) => x.toFixed(1)).join(" / ")} when it ended (other work on the ` +
    `machine slows it): ${duration(f.wallSeconds)} in all, ${duration(f.trainSeconds)} of it training ` +
    `(${f.stepMs.toFixed(0)} ms a step)`
  );
}

/** Which types are above chance by more than two standard errors of a constant guesser, and which not. */
function verdict(f: DemoFigures): string {
  const above = f.accuracy.filter(aboveChance);
  const not = f.accuracy.filter((a) => !aboveChance(a));
  if (!not.length) return `every type is above chance: ${listWords(above.map(typeFigure))}.`;
  const notText = `not above chance: ${listWords(not.map(typeFigure))}.`;
  return above.length
    ? `above chance: ${listWords(above.map(typeFigure))}; ${notText}`
    : `no type is above chance; ${notText}`;
}

const ABOVE =
  "by more than two standard errors of a guesser that always gives the most frequent training " +
  "answer (√(c(1 − c)/n) for chance c on n questions)";

/** What one run cannot show, and how the demo differs from the paper. */
const seedsAndPaper = (f: DemoFigures): string =>
  `This is one run of one training seed (${f.seed}), which says nothing about the spread between seeds: ` +
  "E2 in docs/experiments.md trains this recipe on three. Nor is it a measurement of the paper's: a model of " +
  `${count(f.params)} parameters on synthetic clips, not Mirasol3B on real video, so its accuracies are not ` +
  "comparable with the paper's.";

/** README's paragraph: what the demo does, then what its last measured run showed. */
export function demoReadme(f: DemoFigures): string {
  return [
    `The demo (\`npx mira demo\`) makes ${count(f.clips)} synthetic clips of moving coloured shapes with ` +
      `tones and beeps (${count(f.questions)} questions), trains tiny Mirasol (${count(f.params)} ` +
      `parameters) on them for ${count(f.steps)} steps of ${f.batch} questions with a progress bar — the ` +
      "layout and question-type curriculum of docs/models.md — prints validation accuracy per question type " +
      "beside chance, and answers three questions about clips it never saw.",
    `Its last measured run (written here by \`${DEMO_FIGURES_COMMAND}\`, which runs the demo and keeps ` +
      `what it measured) was ${provenance(f)}.`,
    `On the validation split (exact match; "above chance": ${ABOVE}), ${verdict(f)}`,
    seedsAndPaper(f),
  ].join("\n");
}

/** docs/models.md's section: the recipe, the provenance, and a table per question type. */
export function demoModels(f: DemoFigures): string {
  const above = (a: DemoFigures["accuracy"][number]): string => (aboveChance(a) ? "yes" : "no");
  return [
    `\`npm start\` (\`npx mira demo\`) makes ${count(f.clips)} clips with \`mira data synth\` (data seed ` +
      `${f.dataSeed}; ${count(f.questions)} questions) and trains \`${f.model} --preset ${f.preset} ` +
      `${f.set.map((s) => `--set ${s}`).join(" ")}\` (${count(f.params)} parameters) for ${count(f.steps)} ` +
      `steps of ${f.batch} at lr ${f.lr}, seed ${f.seed}, through \`--types "${f.types}"\` — session 6's ` +
      "recipe below, its stages brought forward to fit the demo's steps.",
    `Last measured by \`${DEMO_FIGURES_COMMAND}\` ${provenance(f)}. Validation split, exact match:`,
    "",
    "| question type | needs | questions | accuracy (%) | chance (%) | above chance |",
    "|---|---|---|---|---|---|",
    ...f.accuracy.map(
      (a) =>
        `| ${a.type} | ${a.needs.join("+")} | ${count(a.questions)} | ${pct(a.accuracy)} | ${pct(a.chance)} | ` +
        `${above(a)} |`,
    ),
    "",
    `"Above chance": ${ABOVE}; ${f.accuracy.filter(aboveChance).length} of the ${f.accuracy.length} types are.`,
    seedsAndPaper(f),
  ].join("\n");
}
