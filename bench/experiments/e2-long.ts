// e2-long.ts (experiments): E2L — E2's Transformer and TTM Combiners trained LONG_FACTOR times as long
// (2,000 steps of 64 at full size), the budget the issue asks for the audio+video types: does a Combiner
// learn both joint types in every seed, and is TTM within a point of the Transformer Combiner at no more
// step time? Written to docs/experiments.md beside E2.
import { writeSection } from "../report.js";
import { budget } from "./budget.js";
import { TRANSFORMER, TTM, costRows, costTable, e2Findings, lossCurves } from "./e2-combiners.js";
import { type AccuracyRow, accuracyBars, runList } from "./markdown.js";
import { type Run, Runner } from "./runs.js";
import { type Suite, longSizes } from "./suite.js";
import { aboveChance, isJoint, listWords, mean, meanExcess, signed } from "./summary.js";

export const E2L_COMBINERS = [TRANSFORMER, TTM] as const;

/** The issue's two goals, each said to hold or not, from the numbers. */
export function e2LongGoals(rows: readonly AccuracyRow[], runs: readonly Run[][]): string {
  const joint = rows[0].types.flatMap((t, i) => (isJoint(t) ? [i] : []));
  const both = rows.filter((r) => joint.every((i) => r.types[i].above === r.types[i].seeds));
  const perType = joint
    .map(
      (i) =>
        `${rows[0].types[i].type}: ${rows.map((r) => `${r.label} ${r.types[i].above}/${r.types[i].seeds}`).join(", ")}`,
    )
    .join("; ");
  const out = [
    `- **Goal: a Combiner learns both audio + video types in every seed — ${both.length ? "met" : "not met"}**` +
      `${both.length ? ` by ${listWords(both.map((r) => r.label))}` : ""} (seeds above chance, ${perType}).`,
  ];
  const [tr, ttm] = [TRANSFORMER.label, TTM.label].map((l) => rows.findIndex((r) => r.label === l));
  if (tr >= 0 && ttm >= 0) {
    const gap = meanExcess(rows[ttm].types) - meanExcess(rows[tr].types);
    const [msTr, msTtm] = [tr, ttm].map((i) => mean(runs[i].map((r) => r.stepMs)));
    const [close, cheap] = [gap >= -1, msTtm <= msTr];
    out.push(
      "- **Goal: TTM within 1 point of the Transformer Combiner at no more step time — " +
        `${close && cheap ? "met" : "not met"}**: ` +
        `${signed(gap)} points (mean over types and seeds; ${close ? "within" : "not within"} the point), ` +
        `${msTtm.toFixed(0)} against ${msTr.toFixed(0)} ms a step (${cheap ? "no more" : "more"}; measured during ` +
        "training, so beside whatever else the machine ran).",
    );
  }
  // a seed whose video path never learned: every type that needs video alone at chance
  const blind = rows.flatMap((row, i) =>
    runs[i]
      .filter((r) => {
        const video = r.accuracy.filter((a) => a.needs.length === 1 && a.needs[0] === "video");
        return video.length > 0 && !video.some(aboveChance);
      })
      .map((r) => `${row.label} seed ${r.seed}`),
  );
  if (blind.length)
    out.push(
      `- Seeds that learned no type needing video alone (every one at chance, so none that needs both): ` +
        `${listWords(blind)}. At 500 steps (E2, E3) the video types were likewise learned in only some seeds.`,
    );
  return out.join("\n");
}

export async function runE2Long(suite: Suite): Promise<Run[][]> {
  const started = Date.now();
  const sizes = longSizes(suite.sizes);
  const runner = new Runner(sizes, suite.data(), (line) => process.stdout.write(`${line}\n`));
  const long: Suite = { ...suite, sizes, runner: () => runner };
  process.stdout.write(
    `\nE2L — Combiners at ${sizes.steps} steps of ${sizes.batch}: ${E2L_COMBINERS.map((c) => c.label).join(", ")}` +
      ` × seeds ${sizes.seeds.join(", ")}\n`,
  );
  const runs = await runner.runAll(E2L_COMBINERS);
  const rows = costRows(E2L_COMBINERS, runs);
  const table = costTable("E2L", rows);
  process.stdout.write(`\n${table}\n`);
  const plots = [
    suite.plot(
      "e2l-accuracy.svg",
      accuracyBars(
        `E2L: test accuracy per question type after ${sizes.steps} steps (whiskers: range over seeds)`,
        rows,
      ),
      "accuracy per type",
    ),
    suite.plot("e2l-loss.svg", lossCurves(E2L_COMBINERS, runs, "E2L"), "validation loss"),
  ];
  writeSection(
    "e2l",
    `## E2L — the Transformer and TTM Combiners at ${sizes.steps.toLocaleString("en-US")} steps

${long.provenance(Date.now() - started)}
${budget(long, "Each Combiner")} The Combiners are E2's first two, with the same overrides; only the length of
training (and the steps at which the curriculum's stages begin, at the same fractions of the run) differs.

${plots.join(" ")}

${table}
${e2LongGoals(rows, runs)}
${e2Findings(rows, runs, sizes.steps)}

${runList(runs.flat(), [suite.data()])}`,
    suite.doc,
  );
  return runs;
}
