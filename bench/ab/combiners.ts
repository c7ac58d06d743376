// combiners.ts (bench/ab): `npx tsx bench/ab/combiners.ts [ROUNDS]` — the TTM Combiner's training step
// against the Transformer Combiner's, both in one process and timed alternately (alternate.ts), at the
// three configurations #20 names: 32 and 128 chunks at batch 1, and E2's (the tiny preset's 4 chunks at
// batch 64). The paper's claim is that TTM is the cheaper Combiner; this is where it is checked on the
// adapter at hand. Writes the medians, their ratio and the load average to docs/PERFORMANCE.md.
import { loadavg } from "node:os";
import { compileGraph } from "../../compiler/program.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { writeSection } from "../report.js";
import { type Side, alternate, median } from "./alternate.js";
import { type Case, TTM, feed, trainStepOf } from "./cases.js";

const TRANSFORMER = "combiner=TransformerCombiner(depth: 1, heads: 2, m: 4)"; // the tiny preset's
const CONFIGS = [
  { label: "32 chunks, B 1, L 16", set: ["chunks=32", "max_chunks=32"], batch: { B: 1, L: 16 } },
  { label: "128 chunks, B 1, L 16", set: ["chunks=128", "max_chunks=128"], batch: { B: 1, L: 16 } },
  { label: "E2's: 4 chunks, B 64, L 16", set: [], batch: { B: 64, L: 16 } },
];
const rounds = Number(process.argv[2] ?? "6");
const STEPS = 4; // per round and program; the first of each round is not timed

const gpu = await getGpu();
const lines = [
  `## TTM against the Transformer Combiner, alternately (${new Date().toISOString().slice(0, 10)}, adapter llvmpipe, ` +
    `\`npx tsx bench/ab/combiners.ts ${rounds}\`)`,
  "",
  `Both training steps (\`models/mirasol.mira --preset tiny\`, \`--set ${TRANSFORMER}\` or \`--set ${TTM}\`) in one ` +
    `process, timed alternately in ${rounds} rounds of ${STEPS - 1} timed steps each (lr 0); the median of each.`,
  "",
  "| configuration | dispatches Transformer / TTM | ms Transformer | ms TTM | TTM ÷ Transformer | load (1 min) |",
  "|---|---|---|---|---|---|",
];
for (const cfg of CONFIGS) {
  const sides: Side[] = [];
  for (const combiner of [TRANSFORMER, TTM]) {
    const c: Case = {
      label: cfg.label,
      file: "models/mirasol.mira",
      preset: "tiny",
      set: [...cfg.set, combiner],
      batch: cfg.batch,
    };
    const { el, st } = trainStepOf(c);
    const program = compileGraph(st.graph, gpu.limits, { updates: st.updates });
    const ex = await Executor.create(gpu, program);
    feed(ex, el);
    sides.push({ ex, dispatches: program.dispatches.length, times: [], loss: Number.NaN });
  }
  await alternate(sides, rounds, STEPS);
  for (const s of sides) s.ex.destroy();
  const [tr, ttm] = sides.map((s) => median(s.times));
  const row =
    `| ${cfg.label} | ${sides[0].dispatches} / ${sides[1].dispatches} | ${tr.toFixed(1)} | ${ttm.toFixed(1)} | ` +
    `${(ttm / tr).toFixed(2)}× | ${loadavg()[0].toFixed(1)} |`;
  console.log(row);
  lines.push(row);
}
writeSection("ab-combiners", lines.join("\n"));
process.exit(0);
