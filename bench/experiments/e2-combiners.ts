// e2-combiners.ts (experiments): E2 — each Combiner trained at the same budget (steps, batch, lr, seeds)
// on the same synthetic set; accuracy per question type beside chance, and cost (parameters, FLOPs of a
// training step as compiled, measured time per step). Written to docs/experiments.md.
import { lineChartSvg } from "../../api/svg-plot.js";
import { writeSection } from "../report.js";
import { type AccuracyRow, accuracyBars, accuracyTable, runList } from "./markdown.js";
import type { Run, RunSpec } from "./runs.js";
import { COLORS, type Suite } from "./suite.js";
import { isJoint, listWords, mean, meanExcess, signed, summarise } from "./summary.js";
import { budget } from "./budget.js";

export const E2_COMBINERS = [
  { label: "Transformer", set: [] }, // the tiny preset's: TransformerCombiner(depth: 1, heads: 2, m: 4)
  { label: "TTM", set: ["combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)"] },
  { label: "Perceiver", set: ["combiner=Perceiver(m: 4, heads: 2)"] },
  { label: "MeanPool", set: ["combiner=MeanPool(m: 4)"] },
  { label: "Concat", set: ["combiner=Concat"] },
  // the paper's Transformer Combiner: the last m outputs of [v ; a], no summary tokens
  { label: "Transformer (last m)", set: ["combiner=LastTokens(depth: 1, heads: 2, m: 4)"] },
  // the preset's Combiner over the paper's sparse video tubes (std.vit) in place of one tube shape
  { label: "Transformer (sparse tubes)", set: ["video_encoder=SparseTubeViT(d, heads, video_depth, patch)"] },
] as const satisfies readonly RunSpec[];

export const [TRANSFORMER, TTM] = E2_COMBINERS;
const LAST_M = E2_COMBINERS[5];

/** Validation loss against step, the mean over seeds at each evaluation. */
export function lossCurves(specs: readonly RunSpec[], runs: readonly Run[][], name = "E2"): string {
  return lineChartSvg(
    `${name}: validation loss against step (mean over seeds)`,
    "step",
    "validation loss (text, nats)",
    specs.map((s, i) => ({
      name: s.label,
      color: COLORS[i % COLORS.length],
      points: runs[i][0].valCurve.map(
        ([step], k) => [step, mean(runs[i].map((r) => r.valCurve[k]?.[1] ?? NaN))] as const,
      ),
    })),
  );
}

/** The verdicts, from the numbers: what each Combiner learned, the joint types, and cost. */
export function e2Findings(rows: readonly AccuracyRow[], runs: readonly Run[][], steps: number): string {
  const out: string[] = [];
  const types = rows[0].types;
  for (const [i, t] of types.entries()) {
    const all = rows.filter((r) => r.types[i].above === r.types[i].seeds).map((r) => r.label);
    const some = rows
      .filter((r) => r.types[i].above > 0 && r.types[i].above < r.types[i].seeds)
      .map((r) => `${r.label} (${r.types[i].above}/${r.types[i].seeds})`);
    const every = all.length
      ? `above chance in every seed with ${listWords(all)}`
      : "no Combiner above chance in every seed";
    out.push(
      `- ${t.type} (${t.needs.join(" + ")}): ${every}` +
        `${some.length ? `; in some seeds with ${listWords(some)}` : ""}.`,
    );
  }
  out.push(
    `- Mean points above chance over the ${types.length} types: ` +
      `${rows.map((r) => `${r.label} ${signed(meanExcess(r.types))}`).join(", ")}.`,
  );
  const [trRow, ttmRow] = [TRANSFORMER.label, TTM.label].map((l) => rows.find((r) => r.label === l));
  if (trRow && ttmRow) {
    const gap = meanExcess(ttmRow.types) - meanExcess(trRow.types);
    const seeds = trRow.types[0].seeds;
    const basis = `mean over types${seeds === 1 ? ", one seed" : ` and ${seeds} seeds`}`;
    out.push(
      gap >= 0
        ? `- TTM against the Transformer Combiner: ${signed(gap)} points (${basis}), as accurate or more ` +
            "at the cost below — consistent with the paper, which reports the TTM Combiner matching the " +
            "Transformer Combiner for less compute."
        : "- **Where this differs from the paper:** the paper reports the TTM Combiner matching the " +
            `Transformer Combiner for less compute; here it is ${Math.abs(gap).toFixed(1)} points below it (` +
            `${basis}) after ${steps} steps.`,
    );
  }
  const lastRow = rows.find((r) => r.label === LAST_M.label);
  if (trRow && lastRow) {
    const gap = meanExcess(lastRow.types) - meanExcess(trRow.types);
    out.push(
      `- The paper's Transformer Combiner (the last m outputs of [v ; a]) against std's (m learned summary ` +
        `tokens appended, docs/models.md): ${signed(gap)} points (mean over types).`,
    );
  }
  const joint = rows.filter((r) => r.types.some((t) => isJoint(t) && t.above > 0));
  const jointNames = types.filter(isJoint).map((t) => t.type);
  out.push(
    joint.length === 0
      ? "\n**Where this differs from the paper:** no Combiner learned either type that needs both " +
          `modalities (${listWords(jointNames)}): no seed of any Combiner is above chance on them by more ` +
          `than two standard errors after ${steps} steps. So at this budget the ablation cannot rank the ` +
          "Combiners on audio-visual reasoning, which is what the paper's comparison is about; it ranks them " +
          "on the single-modality controls and on cost only."
      : "\nAbove chance on a type that needs both modalities in at least one seed: " +
          `${listWords(joint.map((r) => r.label))}.`,
  );
  const cost = (label: string) => {
    const i = rows.findIndex((r) => r.label === label);
    return i < 0 ? undefined : { flops: runs[i][0].flopsPerStep, ms: mean(runs[i].map((r) => r.stepMs)) };
  };
  const [tr, ttm] = [cost(TRANSFORMER.label), cost(TTM.label)];
  if (tr && ttm) {
    const f = 100 * (1 - ttm.flops / tr.flops);
    const t = 100 * (1 - ttm.ms / tr.ms);
    const dispatchNote =
      t < 0 && f > 0
        ? " — on this adapter its unrolled scan's extra dispatches (one set of kernels per chunk) cost " +
          "more than the FLOPs it saves"
        : "";
    out.push(
      `\nCost: the TTM Combiner's training step counts ${Math.abs(f).toFixed(0)} % ` +
        `${f >= 0 ? "fewer" : "more"} FLOPs than the Transformer Combiner's (the paper's setting ` +
        `reportedly saves about 18 %) and took ${Math.abs(t).toFixed(0)} % ${t >= 0 ? "less" : "more"} ` +
        `time per step here${dispatchNote}.`,
    );
  }
  return out.join("\n");
}

/** A row per Combiner: its cost (parameters, FLOPs of a step, mean step time) and accuracy over seeds. */
export function costRows(specs: readonly RunSpec[], runs: readonly Run[][]): AccuracyRow[] {
  return specs.map((spec, i) => ({
    label: spec.label,
    extra: [
      runs[i][0].params.toLocaleString("en-US"),
      (runs[i][0].flopsPerStep / 1e6).toFixed(0),
      mean(runs[i].map((r) => r.stepMs)).toFixed(0),
    ],
    types: summarise(runs[i].map((r) => r.accuracy)),
  }));
}

export const costTable = (name: string, rows: readonly AccuracyRow[]): string =>
  accuracyTable(
    `${name}: test accuracy (%) per question type, mean [min–max] over seeds, and cost`,
    "Combiner",
    ["parameters", "MFLOP / step", "ms / step"],
    rows,
  );

export async function runE2(suite: Suite): Promise<Run[][]> {
  const started = Date.now();
  const s = suite.sizes;
  process.stdout.write(
    `\nE2 — Combiner ablation: ${E2_COMBINERS.length} Combiners × seeds ${s.seeds.join(", ")}, ${s.steps}` +
      ` steps of ${s.batch}\n`,
  );
  const runs = await suite.runner().runAll(E2_COMBINERS);
  const rows = costRows(E2_COMBINERS, runs);
  const table = costTable("E2", rows);
  process.stdout.write(`\n${table}\n`);
  const plots = [
    suite.plot(
      "e2-accuracy.svg",
      accuracyBars("E2: test accuracy per question type (whiskers: range over seeds)", rows),
      "accuracy per type",
    ),
    suite.plot("e2-loss.svg", lossCurves(E2_COMBINERS, runs), "validation loss"),
  ];
  const overrides = (c: (typeof E2_COMBINERS)[number]): string =>
    c.set.length ? `\`--set ${c.set.join(" ")}\`` : "the preset's `TransformerCombiner(depth: 1, heads: 2, m: 4)`";
  const combiners = E2_COMBINERS.map((c) => `${c.label} (${overrides(c)})`).join(", ");
  const setup =
    `${budget(suite, "Each Combiner")} Combiners: ${combiners}: 4 latents a chunk but Concat (all 8 tokens ` +
    "of a chunk) and TTM (4 read tokens a chunk, through a memory of 8); Transformer (last m) keeps the " +
    "outputs at the 4 audio tokens' places, so video reaches them through attention only; Transformer " +
    "(sparse tubes) encodes a chunk's video as 4 image tubes of its first frame and 1 tube of both frames " +
    "at twice the patch size, instead of 4 tubelets of both frames. Cost: parameters " +
    "and FLOPs of one training step as `mira compile --emit report --step train` counts them at this batch; " +
    "ms / step measured during training (mean over seeds).";
  writeSection(
    "e2",
    `## E2 — Combiners at a fixed budget

${suite.provenance(Date.now() - started)}
${setup}

${plots.join(" ")}

${table}
${e2Findings(rows, runs, s.steps)}

${runList(runs.flat(), [suite.data()])}`,
    suite.doc,
  );
  return runs;
}
