// e1-section.ts (experiments): E1's section of docs/experiments.md — the cost of a training step against
// video length (e1-scaling.ts measures each case), with its plots and the differences from the paper.
import { lineChartSvg } from "../../api/svg-plot.js";
import { formatBytes } from "../../compiler/limits.js";
import { adapterName } from "../../runtime/device.js";
import { Table } from "../harness.js";
import { writeSection } from "../report.js";
import { E1_COMBINERS, E1_FRAMES, E1_ROUNDS, type E1Row, e1Case, timeAlternately } from "./e1-scaling.js";
import { COLORS, type Suite } from "./suite.js";

export async function runE1(suite: Suite): Promise<void> {
  const { quick, timeIt } = suite.options;
  const started = Date.now();
  // --quick: three lengths, timed at the shortest only (a pipeline set per case is slow on a busy CPU)
  const frames = quick ? E1_FRAMES.slice(0, 3) : E1_FRAMES;
  process.stdout.write(
    "E1 — cost of a training step against video length (tiny widths, 4 frames a chunk, B=1, L=16) on " +
      `${adapterName(suite.gpu.adapter)}\n`,
  );
  const table = new Table("E1: cost of one training step against video length", [
    "combiner",
    "frames",
    "chunks",
    "GFLOP/step",
    "planned buffers",
    "largest buffer",
    "fits this adapter",
    "dispatches",
    "ms/step",
  ]);
  const rows: E1Row[] = [];
  // each length's Combiners are timed together, alternately (timeAlternately); the rows stay in
  // Combiner order
  for (const f of frames) {
    const cases = [];
    for (const c of E1_COMBINERS) cases.push(await e1Case(c, f, suite.gpu, timeIt && (!quick || f === frames[0])));
    const timed = cases.filter((x) => x.stepper);
    const ms = await timeAlternately(timed.map((x) => x.stepper!));
    for (const x of timed) x.stepper!.destroy();
    for (const x of cases) {
      const k = timed.indexOf(x);
      rows.push(k >= 0 ? { ...x.row, stepMs: ms[k] } : x.row);
    }
  }
  const place = (r: E1Row) => E1_COMBINERS.findIndex((c) => c.name === r.combiner);
  rows.sort((a, b) => place(a) - place(b) || a.frames - b.frames);
  for (const r of rows)
    table.add([
      r.combiner,
      String(r.frames),
      String(r.chunks),
      r.flops / 1e9,
      formatBytes(r.peakBytes),
      formatBytes(r.largestBuffer),
      r.fits ? "yes" : "no",
      String(r.dispatches),
      r.stepMs ?? "-",
    ]);

  const series = (y: (r: E1Row) => number | undefined) =>
    E1_COMBINERS.map((c, i) => ({
      name: c.name,
      color: COLORS[i],
      points: rows.filter((r) => r.combiner === c.name && y(r) !== undefined).map((r) => [r.frames, y(r)!] as const),
    }));
  const timed = rows.some((r) => r.stepMs !== undefined);
  const plots = [
    suite.plot(
      "e1-flops.svg",
      lineChartSvg(
        "E1: training-step FLOPs against video length",
        "frames",
        "GFLOP per step",
        series((r) => r.flops / 1e9),
      ),
      "FLOPs",
    ),
    suite.plot(
      "e1-bytes.svg",
      lineChartSvg(
        "E1: planned buffer bytes against video length",
        "frames",
        "MiB",
        series((r) => r.peakBytes / 2 ** 20),
      ),
      "bytes",
    ),
    ...(timed
      ? [
          suite.plot(
            "e1-time.svg",
            lineChartSvg(
              "E1: measured step time on this adapter",
              "frames",
              "ms per step",
              series((r) => r.stepMs),
            ),
            "time",
          ),
        ]
      : []),
  ];

  const growth = (name: string, y: (r: E1Row) => number): string => {
    const rs = rows.filter((r) => r.combiner === name);
    const [a, b] = [rs.at(-2)!, rs.at(-1)!];
    return (y(b) / y(a)).toFixed(2);
  };
  const last = (prefix: string): E1Row => rows.filter((r) => r.combiner.startsWith(prefix)).at(-1)!;
  const timedAtLast = E1_COMBINERS.map((c) => last(c.name)).filter((r) => r.stepMs !== undefined);
  const stepGrowth = E1_COMBINERS.map((c) => `${growth(c.name, (r) => r.stepMs ?? NaN)} (${c.name})`).join(", ");
  const ratios = frames
    .map((f) => {
      const [t, x] = ["TTM", "Transformer"].map((p) => rows.find((r) => r.frames === f && r.combiner.startsWith(p)));
      return t?.stepMs && x?.stepMs ? `${t.chunks} chunks ${(t.stepMs / x.stepMs).toFixed(2)}×` : undefined;
    })
    .filter((x) => x !== undefined);
  const timeText =
    timedAtLast.length < E1_COMBINERS.length
      ? ""
      : `

TTM's step time over the Transformer Combiner's, timed alternately at each length: ${ratios.join(", ")}.
`;
  const lastText =
    timedAtLast.length < E1_COMBINERS.length
      ? ""
      : `

Measured on this adapter, doubling from ${frames.at(-2)} to ${frames.at(-1)} frames multiplied the step time by
${stepGrowth}; at ${frames.at(-1)} frames a step took
${timedAtLast.map((r) => `${r.stepMs!.toFixed(0)} ms (${r.combiner})`).join(", ")}. ${
          last("Transformer").stepMs! < last("Concat").stepMs!
            ? "The Transformer Combiner's step is cheaper than the joint model's there, as the paper's picture has it."
            : "**The Transformer Combiner's step is not cheaper than the joint model's there**, unlike the " +
              "paper's picture."
        } ${
          last("TTM").stepMs! < last("Transformer").stepMs!
            ? "TTM's is cheaper still."
            : "**TTM's is not cheaper than the Transformer Combiner's** (" +
              `${last("TTM").dispatches.toLocaleString("en-US")} dispatches against ` +
              `${last("Transformer").dispatches.toLocaleString("en-US")}): below.`
        }`;
  const timing = lastText + timeText;
  const ttmSaving = (100 * (1 - last("TTM").flops / last("Transformer").flops)).toFixed(0);
  writeSection(
    "e1",
    `## E1 — cost against video length

${suite.provenance(Date.now() - started)}
No seeds: nothing is trained; step times use fixed pseudo-random inputs and initial weights. The
Combiners of one length are timed together in this process, round by round (${E1_ROUNDS} rounds after a
warm-up step each, the first to run rotating; the median of each), so that load from other work falls on
all of them alike and their ratios hold where the figures themselves drift.
Model: \`models/mirasol.mira --preset tiny\` (d 32, 16×16 frames, 4 frames and 16 spectrogram frames a
chunk, 24 tokens a chunk), \`--set chunks=frames/4\`, one training step (forward, backward, AdamW) at
B = 1, L = 16. FLOPs are counted on the training-step graph; buffer bytes are the compiler's memory plan
(values with disjoint lifetimes share buffers) for a device without binding limits, so every size has
a figure; "fits this adapter" says whether the same program compiles within this adapter's limits.

${plots.join(" ")}${timed ? "" : " (step times not measured in this run: --no-time)"}

${table.markdown()}
Doubling the video from ${frames.at(-2)} to ${frames.at(-1)} frames multiplies the step's FLOPs by
${E1_COMBINERS.map((c) => `${growth(c.name, (r) => r.flops)} (${c.name})`).join(", ")} and its planned bytes by
${E1_COMBINERS.map((c) => `${growth(c.name, (r) => r.peakBytes)} (${c.name})`).join(", ")}. The joint model's
attention over all tokens grows quadratically in FLOPs, while Mirasol's Combiners keep a chunk's work
fixed and only the AR model over chunks·m latents (m = 4 here) grows faster than linearly. Concat's
bytes grow quadratically only until its attention scores pass 4 MiB: from there the compiler takes the
flash-attention kernels (compiler/passes/choose-attention.ts), which never store the T×T scores, so the
joint model's memory becomes linear too — its FLOPs do not (the backward pass even recomputes scores).${timing}

Where this differs from the paper's picture: TTM's FLOPs are ${ttmSaving} % below the Transformer
Combiner's at ${frames.at(-1)} frames (the paper's setting reportedly saves about 18 %; the saving depends on memory
and read sizes), but its dispatches grow with the number of chunks — the scan over chunks is unrolled
into the program, one set of kernels per chunk — so on an adapter where a dispatch costs ≈ 20 µs its
step time can grow faster than its FLOPs; a scan lowered to one loop of kernels is the fix.
`,
    suite.doc,
  );
}
