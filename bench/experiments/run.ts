// run.ts (experiments): `npm run experiments [-- --quick] [-- --no-time] [-- --only E2,E3]` — the
// small-scale stand-ins for the paper's claims (../shared/MIRASOL.md): E1 cost against video length, E2
// the Combiners at a fixed budget, E3 the AR model and its losses, E4 length generalisation. Each writes
// its section of docs/experiments.md (plots in docs/experiments/); sizes and the time budget are in
// suite.ts (full: ≈ 2 h a seed on this machine; --quick: a few minutes, written to
// .mira-cache/experiments/quick/ so that it never overwrites the measured results).
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { cpus, loadavg } from "node:os";
import { writeFileAtomic } from "../../runtime/checkpoint.js";
import { adapterName, getGpu } from "../../runtime/device.js";
import { writeSection } from "../report.js";
import { type DataSet, shown, synthSet } from "./data-sets.js";
import { runE1 } from "./e1-section.js";
import { E2_COMBINERS, runE2 } from "./e2-combiners.js";
import { E2L_COMBINERS, runE2Long } from "./e2-long.js";
import { E3_CONFIGS, runE3 } from "./e3-ar.js";
import { runE4 } from "./e4-length.js";
import { Runner } from "./runs.js";
import { AV_LAYOUT } from "../../apps/mirasol/av-recipe.js";
import {
  type Experiment,
  FULL,
  FULL_ESTIMATE,
  type Suite,
  SuiteUsageError,
  docPaths,
  longSizes,
  minutes,
  parseSuiteOptions,
  suiteCommand,
  suiteSizes,
  writePlot,
} from "./suite.js";

let options: ReturnType<typeof parseSuiteOptions>;
try {
  options = parseSuiteOptions(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof SuiteUsageError)) throw e;
  process.stderr.write(`experiments: ${e.message}\n`);
  process.exit(2);
}

const { doc, plots } = docPaths(options.quick);
if (!existsSync(doc)) {
  mkdirSync(dirname(doc), { recursive: true });
  writeFileAtomic(
    doc,
    new TextEncoder().encode(`# Experiments

The paper's claims measured at small scale on this machine (../shared/MIRASOL.md describes E1–E4).
Written by \`npm run experiments\`; every section names its command, seeds and wall time, and says
plainly where a result does not match the paper's claim. Sizes: \`bench/experiments/suite.ts\`.
`),
  );
}

const gpu = await getGpu();
const sizes = suiteSizes(options);
const command = suiteCommand(options);
let data: DataSet | undefined;
let runner: Runner | undefined;
const suite: Suite = {
  options,
  sizes,
  gpu,
  doc,
  plot: (file, svg, alt) => writePlot(plots, file, svg, alt),
  data: () => (data ??= synthSet(sizes.clips, sizes.dataSeed, AV_LAYOUT.chunks, AV_LAYOUT.frames)),
  runner: () => (runner ??= new Runner(sizes, suite.data(), (line) => process.stdout.write(`${line}\n`))),
  provenance: (ms) =>
    `Command: \`${command}\` (this section ${minutes(ms)} min; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" / ")} on ${cpus().length} cores when it ended; adapter ${adapterName(gpu.adapter)}).`,
};

const started = Date.now();
let longRuns: readonly unknown[] = [];
const steps: Record<Experiment, () => Promise<unknown>> = {
  E1: () => runE1(suite),
  E2: () => runE2(suite),
  E2L: async () => (longRuns = (await runE2Long(suite)).flat()),
  E3: () => runE3(suite),
  E4: () => runE4(suite),
};
const took: string[] = [];
for (const [name, step] of Object.entries(steps) as [Experiment, () => Promise<unknown>][]) {
  if (!options.only.has(name)) continue;
  const t = Date.now();
  await step();
  took.push(`${name} ${minutes(Date.now() - t)} min`);
}
const total = minutes(Date.now() - started);
// E3's base is E2's Transformer (the same overrides), trained once
const e2Sets = new Set(E2_COMBINERS.map((c) => JSON.stringify(c.set)));
const fullRuns =
  FULL.seeds.length * (e2Sets.size + E2L_COMBINERS.length) +
  FULL.e3Seeds * E3_CONFIGS.filter((c) => !e2Sets.has(JSON.stringify(c.set))).length;
const sizesText =
  `Sizes of the training experiments (bench/experiments/suite.ts): ${sizes.clips.toLocaleString("en-US")} ` +
  `clips, ${sizes.steps} steps of batch ${sizes.batch}, lr ${sizes.lr}, seeds ${sizes.seeds.join(", ")}` +
  `${options.quick ? " (--quick)" : ""}.`;
const runsText =
  `It used ${(runner?.count ?? 0) + longRuns.length} training runs (${runner?.reused ?? 0} of E2–E4's reused ` +
  "from an earlier " +
  `suite run). The full suite (\`npm run experiments\`: ${FULL.clips.toLocaleString("en-US")} clips, ` +
  `${FULL.steps} steps of batch ${FULL.batch} (E2L ${longSizes(FULL).steps}), seeds ${FULL.seeds.join(", ")}, E3 ` +
  `the first ${FULL.e3Seeds}` +
  `; ${fullRuns} training runs) is sized`;
writeSection(
  "suite",
  `## The last run

\`${command}\` took ${total} min (${took.join(", ")}) on ${adapterName(gpu.adapter)}, ${cpus().length} cores.
${sizesText}
${runsText}
for ${FULL_ESTIMATE} on this machine (2 cores, llvmpipe).
\`-- --quick\` is a smoke run of a few minutes, \`-- --only E2,E4\` runs a subset of the experiments and
\`-- --seeds 1\` a subset of the seeds (finished runs are kept under .mira-cache/experiments/runs and reused).
`,
  doc,
);
process.stdout.write(`\nwritten to ${shown(doc)} and ${shown(plots)}/*.svg (${total} min: ${took.join(", ")})\n`);
process.exit(0);
