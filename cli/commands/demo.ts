// demo.ts: what `npm start` runs until the model path lands — the doctor's view of the device, then a
// two-layer MLP forward on the GPU checked against the CPU reference, saying what it did.
import { GraphBuilder } from "../../compiler/builder.js";
import { binary } from "../../compiler/ops/helpers.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { pseudoValues, time } from "../../bench/harness.js";
import type { Parsed } from "../args.js";
import { EXIT } from "../errors.js";
import { describeGpu } from "./doctor.js";
import { runSelfTest } from "../selftest.js";

export async function demo(_: Parsed): Promise<number> {
  const say = (s: string) => process.stdout.write(s + "\n");
  const gpu = await getGpu();
  say("mira — the device");
  for (const l of describeGpu(gpu)) say("  " + l);
  const checks = await runSelfTest(gpu);
  say(`  self-test  ${checks.every((c) => c.ok) ? "ok" : "FAILED"} (${checks.map((c) => c.name).join(", ")})`);

  const [B, D, H, C] = [64, 256, 512, 10];
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [B, D]);
  const h = b.add("gelu", [binary(b, "add", b.add("matmul", [x, b.param("w1", "f32", [D, H])]), b.param("b1", "f32", [H]))]);
  const logits = binary(b, "add", b.add("matmul", [h, b.param("w2", "f32", [H, C])]), b.param("b2", "f32", [C]));
  b.output("probs", b.add("softmax", [logits], { axis: -1 }));
  const graph = b.build();
  const feeds = { x: pseudoValues(B * D, 1, 2), w1: pseudoValues(D * H, 2, 0.1), b1: pseudoValues(H, 3, 0.1), w2: pseudoValues(H * C, 4, 0.1), b2: pseudoValues(C, 5, 0.1) };
  const program = compileGraph(graph, gpu.limits);
  const ex = await Executor.create(gpu, program);
  for (const [k, v] of Object.entries(feeds)) ex.write(k, v);
  const got = (await ex.run()).probs;
  const ref = runReference(graph, feeds).probs.data;
  let err = 0;
  for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(got[i] - ref[i]));
  const t = await time(() => ex.run([]).then(() => ex.sync()), { warmup: 2, runs: 9 });
  ex.destroy();
  const flops = 2 * B * D * H + 2 * B * H * C;
  say("");
  say(`mira — an MLP forward on the GPU: x[${B}, ${D}] → Linear ${D}→${H} → GELU → Linear ${H}→${C} → softmax`);
  say(`  ${program.dispatches.length} dispatches (${program.kernels.length} distinct kernels) in one submit; ${t.medianMs.toFixed(2)} ms per forward (median of ${t.runs}), ${(flops / t.medianMs / 1e6).toFixed(2)} GFLOP/s`);
  say(`  equals the CPU reference: max |difference| ${err.toExponential(1)} over ${ref.length} probabilities`);
  say("");
  say("next: 'npx mira doctor' for the device, 'npx mira check models/char_lm.mira' for the language, 'npm run bench' for speed");
  return err < 1e-5 && checks.every((c) => c.ok) ? EXIT.ok : EXIT.failed;
}
