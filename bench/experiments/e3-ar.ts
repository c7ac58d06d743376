// e3-ar.ts (experiments): E3 — the time-aligned AR model on and off, and its two auxiliary losses (latent
// prediction, reconstruction) on and off, the latent loss without its stop-gradient, at λ 0.1 and 0.01, and
// with variance and covariance terms (VarianceCosineLoss); all with the
// Transformer Combiner at E2's budget (the base is E2's Transformer runs). Written to docs/experiments.md.
import { writeSection } from "../report.js";
import { budget } from "./budget.js";
import { type ValidationMeasures, validationMeasures } from "./losses.js";
import { type AccuracyRow, accuracyBars, accuracyTable, runList } from "./markdown.js";
import type { Run, RunSpec } from "./runs.js";
import { type Suite, e3SeedsOf } from "./suite.js";
import { mean, meanExcess, signed, summarise } from "./summary.js";

export const E3_CONFIGS = [
  { label: "AR (base)", set: [] }, // the tiny preset: λ latent = λ recon = 0
  { label: "no AR", set: ["ar_depth=0"] },
  { label: "AR + latent", set: ["lambda_latent=1"] },
  { label: "AR + recon", set: ["lambda_recon=1"] },
  { label: "AR + both", set: ["lambda_latent=1", "lambda_recon=1"] },
  { label: "AR + latent, no stop-grad", set: ["lambda_latent=1", "latent_target_grad=1"] },
  // λ sweep of the latent loss, and a loss whose variance and covariance terms (std.losses) make latents
  // that are one vector per place cost something
  { label: "AR + latent λ 0.1", set: ["lambda_latent=0.1"] },
  { label: "AR + latent λ 0.01", set: ["lambda_latent=0.01"] },
  { label: "AR + latent, var/cov", set: ["lambda_latent=1", "latent_loss=VarianceCosineLoss()"] },
  { label: "AR + latent λ 0.1, var/cov", set: ["lambda_latent=0.1", "latent_loss=VarianceCosineLoss()"] },
] as const satisfies readonly RunSpec[];

// Collapse, as E3 calls it: the latents' spread (losses.ts) without stop-gradient below half of what it
// is with it — the latents moved a long way towards one constant vector.
const COLLAPSE_RATIO = 0.5;

const range = (xs: readonly number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];

/** Points above chance averaged over the types, one value per seed. */
const perSeedExcess = (runs: readonly Run[]): number[] => runs.map((r) => meanExcess(summarise([r.accuracy])));

export function e3Findings(runs: readonly Run[][], measures: readonly ValidationMeasures[][]): string {
  const base = perSeedExcess(runs[0]);
  const [b0, b1] = range(base);
  // with one seed there is no spread to hold a difference against, so nothing counts as told apart
  const oneSeed = base.length < 2;
  const compared = E3_CONFIGS.slice(1).map((c, k) => {
    const xs = perSeedExcess(runs[k + 1]);
    const [x0, x1] = range(xs);
    const d = mean(xs) - mean(base);
    return { label: c.label, d, separate: !oneSeed && (x1 < b0 || x0 > b1) };
  });
  const spreadWords = (separate: boolean): string =>
    oneSeed
      ? "one seed, so the variation between seeds is unknown"
      : separate
        ? "the seeds' ranges do not overlap"
        : "the seeds' ranges overlap, so the difference is within seed-to-seed variation at this budget";
  const out = compared.map(
    (c) =>
      `- ${c.label}: ${signed(c.d)} points above chance against the base (mean over types and seeds); ` +
      `${spreadWords(c.separate)}.`,
  );
  const verdict = (label: string, claim: string): string => {
    const c = compared.find((x) => x.label === label)!;
    const supports = label === "no AR" ? c.d < 0 && c.separate : c.d > 0 && c.separate;
    return (
      `${claim}: ${supports ? "consistent with the numbers above" : "**not reproduced at this budget**"} (` +
      `${signed(c.d)} points${c.separate ? "" : oneSeed ? ", one seed" : ", within seed variation"}).`
    );
  };
  out.push(
    "",
    "Against the paper's claims:",
    `- ${verdict("no AR", "The time-aligned AR model helps (removing it lowers accuracy)")}`,
    `- ${verdict("AR + both", "The latent and reconstruction losses help")}`,
  );
  const of = (label: string, m: (v: ValidationMeasures) => number): number =>
    mean(measures[E3_CONFIGS.findIndex((c) => c.label === label)].map(m));
  const spread = (label: string): number => of(label, (v) => v.latentSpread ?? NaN);
  const loss = (label: string): number => of(label, (v) => v.losses.latent ?? NaN);
  const [withSg, without, none] = [spread("AR + latent"), spread("AR + latent, no stop-grad"), spread("AR (base)")];
  out.push(
    "- Stop-gradient on the latent target prevents collapse: without it the latents' spread is " +
      `${without.toFixed(3)} (validation latent loss ${loss("AR + latent, no stop-grad").toFixed(3)}), ` +
      `with it ${withSg.toFixed(3)} (loss ${loss("AR + latent").toFixed(3)}), and ${none.toFixed(3)} with ` +
      "no latent loss; " +
      `${
        without < COLLAPSE_RATIO * withSg
          ? `less than ${COLLAPSE_RATIO} of the stop-gradient run's: the latents moved towards one constant ` +
            "vector, the collapse stop-gradient is there to prevent (consistent with the paper)."
          : `not below ${COLLAPSE_RATIO} of the stop-gradient run's: **no collapse at this budget**, so the ` +
            "need for stop-gradient is not shown here."
      }`,
  );
  const clip = (label: string): number => of(label, (v) => v.clipSpread ?? NaN);
  const [clipSg, clipBase] = [clip("AR + latent"), clip("AR (base)")];
  const perSeed = measures[E3_CONFIGS.findIndex((c) => c.label === "AR + latent")].map((m) =>
    (m.clipSpread ?? NaN).toFixed(3),
  );
  const contentFree = clipSg < COLLAPSE_RATIO * clipBase;
  out.push(
    `- Whether stop-gradient keeps the latents about the clip: their clip spread is ${clipSg.toFixed(3)} ` +
      `with the latent loss and stop-gradient (per seed ${perSeed.join(", ")}) against ` +
      `${clipBase.toFixed(3)} with no latent loss; ` +
      `${
        contentFree
          ? `less than ${COLLAPSE_RATIO} of it: the Combiner learned latents that depend on their place ` +
            "(chunk, slot) more than on the clip — easy to predict from the chunk before and of little use " +
            "to the decoder (consistent with the accuracy falling towards chance). The target is held fixed, " +
            "but the Combiner still shapes it through the prediction's input: a collapse the spread over all " +
            "latents does not show."
          : `not below ${COLLAPSE_RATIO} of it: the latents still carry the clip.`
      }`,
  );
  const [clipVc, clipVcLow] = [clip("AR + latent, var/cov"), clip("AR + latent λ 0.1, var/cov")];
  out.push(
    `- Whether variance and covariance terms keep the latents about the clip (\`VarianceCosineLoss\`): clip ` +
      `spread ${clipVc.toFixed(3)} at λ 1 and ${clipVcLow.toFixed(3)} at λ 0.1, against ${clipSg.toFixed(3)} ` +
      `with the cosine loss alone and ${clipBase.toFixed(3)} with no latent loss; ` +
      `${
        clipVc < COLLAPSE_RATIO * clipBase
          ? `still less than ${COLLAPSE_RATIO} of the latter at λ 1: the terms do not stop the collapse here.`
          : `not below ${COLLAPSE_RATIO} of it at λ 1: the terms keep the latents about the clip.`
      }`,
  );
  return out.join("\n");
}

export async function runE3(suite: Suite): Promise<void> {
  const started = Date.now();
  const seeds = e3SeedsOf(suite.sizes);
  process.stdout.write(
    `\nE3 — AR model and auxiliary losses: ${E3_CONFIGS.length} configurations × seeds ${seeds.join(", ")}\n`,
  );
  const runs = await suite.runner().runAll(E3_CONFIGS, seeds);
  const measures: ValidationMeasures[][] = [];
  for (const rs of runs) {
    const ms: ValidationMeasures[] = [];
    for (const r of rs) ms.push(await validationMeasures(r.checkpoint));
    measures.push(ms);
  }
  const lossCell = (i: number, name: string): string => mean(measures[i].map((m) => m.losses[name] ?? NaN)).toFixed(3);
  const spreadCell = (i: number, of: (m: ValidationMeasures) => number | undefined): string =>
    mean(measures[i].map((m) => of(m) ?? NaN)).toFixed(3);
  const rows: AccuracyRow[] = E3_CONFIGS.map((c, i) => ({
    label: c.label,
    extra: [
      c.set.length ? `\`${c.set.join(" ")}\`` : "(none)",
      lossCell(i, "text_loss"),
      lossCell(i, "latent"),
      lossCell(i, "recon"),
      spreadCell(i, (m) => m.latentSpread),
      spreadCell(i, (m) => m.clipSpread),
    ],
    types: summarise(runs[i].map((r) => r.accuracy)),
  }));
  const table = accuracyTable(
    "E3: test accuracy (%) per question type, mean [min–max] over seeds, and validation losses",
    "configuration",
    ["--set", "text loss", "latent loss", "recon loss", "latent spread", "clip spread"],
    rows,
  );
  process.stdout.write(`\n${table}\n`);
  const plot = suite.plot(
    "e3-accuracy.svg",
    accuracyBars("E3: test accuracy per question type (whiskers: range over seeds)", rows),
    "accuracy per type",
  );
  const setup =
    `${budget(suite, "Each configuration (Transformer Combiner)", seeds)} The base is the tiny preset (AR ` +
    "model of depth 1, λ latent = λ recon = 0) and is E2's Transformer runs. E3 trains the first " +
    `${seeds.length} of E2's seeds (bench/experiments/suite.ts: its nine further configurations cost more ` +
    `than E2's seven Combiners, and three seeds of both would not fit one sitting). "No AR" is ` +
    `\`ar_depth=0\`: the model still elaborates — each chunk's latents get their chunk position and a ` +
    "LayerNorm — but no block mixes chunks, so the decoder cross-attends to per-chunk latents with no " +
    "time-aligned model over them (the latent and reconstruction heads would predict chunk t + 1 from " +
    `chunk t alone). λ = 1 turns a loss on; \`latent_target_grad=1\` lets the latent loss's gradient ` +
    "through its target (the default 0 is stop-gradient; the value is the same); λ 0.1 and 0.01 sweep the " +
    "latent loss's weight; `latent_loss=VarianceCosineLoss()` adds to the cosine a hinge holding each " +
    "prediction dimension's spread over the batch at every place above 1 and the mean square of their " +
    "covariances (docs/models.md), so latents alike for every clip cost something. Validation losses (mean " +
    "over seeds, the run's 8 validation batches) are measured for every run whatever its λ, so the columns " +
    "compare: text loss is cross-entropy on the answer tokens (nats), latent loss 1 − cosine, recon loss " +
    "mean squared error; latent spread is √(E‖x − E x‖²) / √(E‖x‖²) " +
    "over every latent vector of those " +
    "batches (1: centred, 0: all one vector — collapse); clip spread is the same with the mean taken per " +
    "place (chunk and slot) over the clips, √(E‖x − E_clips x‖²) / √(E‖x‖²) " +
    "(0: every clip gets the same " +
    "latents at each place — they say nothing about the clip).";
  writeSection(
    "e3",
    `## E3 — the time-aligned AR model and its losses

${suite.provenance(Date.now() - started)}
${setup}

${plot}

${table}
${e3Findings(runs, measures)}

${runList(runs.flat(), [suite.data()])}`,
    suite.doc,
  );
}
