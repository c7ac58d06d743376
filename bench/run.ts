// run.ts (bench): `npm run bench` — kernel benchmarks through the compiler's own code path, printed and
// written to docs/PERFORMANCE.md with the adapter named.
import { join } from "node:path";
import { chooseMatmulVariant } from "../compiler/wgsl/matmul.js";
import { adapterName, getGpu } from "../runtime/device.js";
import { benchDispatch, benchElementwise } from "./dispatch.js";
import { benchMatmul } from "./matmul.js";
import { pseudoValues } from "./harness.js";
import { writeSection } from "./report.js";

const gpu = await getGpu();
const adapter = adapterName(gpu.adapter);
const chosen = chooseMatmulVariant(gpu.limits);
process.stdout.write(
  `mira bench on ${adapter} (${gpu.limits.adapterKind} adapter; matmul variant chosen: ${chosen})\n\n`,
);

process.stdout.write("matmul\n");
const other = chosen === "registers" ? "shared" : "registers";
const matmul = await benchMatmul(gpu, [chosen]);
process.stdout.write(`matmul, the ${other} variant (not chosen for this adapter), square sizes\n`);
const matmulOther = await benchMatmul(
  gpu,
  [other],
  (await import("./matmul.js")).MATMUL_CASES.filter((c) => /^(256|1024)×/.test(c.label) && !c.transA && !c.transB),
  `matmul (f32), the ${other} variant, not chosen for this adapter`,
);
process.stdout.write("\ndispatch overhead\n");
const dispatch = await benchDispatch(gpu);
process.stdout.write("\nelementwise\n");
const elementwise = await benchElementwise(gpu);

process.stdout.write("\ntraining step (char_lm, default preset, B=16, T=64; Mirasol tiny, B=8, L=16)\n");
const { loadModel } = await import("../api/model.js");
const { benchTrainStep } = await import("./train.js");
const training = await benchTrainStep(gpu, [
  {
    label: "char_lm B16 T64",
    model: loadModel("models/char_lm.mira"),
    batch: { B: 16, T: 64 },
    inputs: () => ({ tokens: Int32Array.from({ length: 16 * 64 }, (_, i) => (i * 31) % 90) }),
    tokens: 16 * 64,
  },
  {
    label: "Mirasol tiny B8 L16",
    model: loadModel("models/mirasol.mira", { preset: "tiny" }),
    batch: { B: 8, L: 16 },
    inputs: (shapes) => {
      const n = (name: string): number => (shapes.get(name) ?? []).reduce((a, b) => a * b, 1);
      return {
        video: pseudoValues(n("video"), 1, 0.5).map((x) => x + 0.5),
        spectrogram: pseudoValues(n("spectrogram"), 2, 1),
        text: Int32Array.from({ length: n("text") }, (_, i) => 3 + ((i * 7) % 26)),
        loss_mask: Float32Array.from({ length: n("loss_mask") }, (_, i) => (i % 16 >= 10 && i % 16 < 12 ? 1 : 0)),
      };
    },
    tokens: 0,
  },
]);

const date = new Date().toISOString().slice(0, 10);
const cores = (await import("node:os")).cpus().length;
const load = (await import("node:os"))
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(" / ");
writeSection(
  "kernels",
  `## Kernels (${date}, adapter: ${adapter}, Dawn via npm webgpu)

Load average (1/5/15 min) when the run ended: ${load} on ${cores} cores — other work on
the machine slows every figure here.

Matmul runs through \`compileGraph\` → \`Executor\`, the path models use; each result is checked against
the CPU reference (exactly for sizes ≤ 300, on 64 spot entries above). The last column quotes other engines'
matmul figures at N = 1024 from the developers' guide (bench/matmul.ts, \`QUOTED_PEERS\`): not measured by
this run, so load and driver changes since they were taken are not in them. The peers section below measures jax-js
and tfjs-webgpu on this adapter, in this run.

${matmul.markdown()}
${matmulOther.markdown()}
${dispatch.markdown()}
${elementwise.markdown()}
${training.markdown()}`,
);
process.stdout.write(
  "\ngeneration: char_lm with caches of 1280 positions, derived decoder vs recomputation (bench/decode.ts)\n",
);
const { benchDecode, charLmDecodeCase, decodeSection, loadText } = await import("./decode.js");
const decodeLoad = loadText();
const decode = await benchDecode(gpu, charLmDecodeCase());
writeSection("decode", decodeSection(adapter, decode, decodeLoad, loadText()));
process.stdout.write("\nmixed precision: char_lm trained in f32 and in f16 (bench/precision.ts)\n");
writeSection("precision", await (await import("./precision.js")).benchPrecision(gpu));
process.stdout.write("\nmatmul autotuning, default against tuned (bench/autotune.ts)\n");
const { benchAutotune, writeAutotuneSections } = await import("./autotune.js");
const autotuneLoad = (await import("node:os")).loadavg();
writeAutotuneSections(gpu, await benchAutotune(gpu), undefined, autotuneLoad);
process.stdout.write("\nattention: memory against sequence length, flash vs lowered (bench/attention.ts)\n");
await (await import("./attention.js")).writeAttentionSection(gpu);
process.stdout.write(
  "\npeers: a transformer block and an elementwise kernel in mira, jax-js and tfjs-webgpu " +
    "(bench/peers.ts, in a child process)\n",
);
const { runPeers, runBenchScript } = await import("./peers.js");
await runPeers();
process.stdout.write(
  "\nthe TTM Combiner's training step against the Transformer Combiner's, alternately " +
    "(bench/ab/combiners.ts, in a child process)\n",
);
await runBenchScript(join("ab", "combiners.ts"), ["6"], "combiners");
process.stdout.write("\nwritten to docs/PERFORMANCE.md\n");
process.exit(0);
