// losses.ts (experiments): every loss a trained audio-video model declares (text, latent, reconstruction
// for Mirasol), measured on the validation batches whatever weight λ it was trained with, so that runs
// with different λ can be compared on each; and, for a model with a `latents` output, how varied its
// latents are (collapse makes them all alike). No CLI prints these; E3 reads them.
import { avBatchDims, avDataSource, writeInputs } from "../../api/av.js";
import { loadWeights, openTrained } from "../../api/trained.js";
import { compileFor } from "../../runtime/autotune-cache.js";
import { loadAvDataset } from "../../runtime/data/av-format.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";

export interface ValidationMeasures {
  /** mean of each declared loss over the validation batches */
  readonly losses: Readonly<Record<string, number>>;
  /**
   * The latents' spread: √(E‖x − E x‖²) / √(E‖x‖²) over every latent vector of the validation batches
   * (all clips, chunks and slots) — 1 when they are centred, 0 when they are all the same vector.
   */
  readonly latentSpread?: number;
}

export async function validationMeasures(checkpoint: string): Promise<ValidationMeasures> {
  const trained = openTrained(checkpoint, "av-qa", "validationMeasures");
  const ds = loadAvDataset(trained.meta.data);
  const batch = Number(trained.meta.batch);
  const el = trained.model.elaborate(avBatchDims(ds, batch));
  const outputs = el.graph.outputs.filter((o) => el.losses.includes(o.name) || o.name === "latents");
  const gpu = await getGpu();
  const ex = await Executor.create(gpu, compileFor(gpu, { nodes: el.graph.nodes, outputs }));
  try {
    loadWeights(ex, trained);
    const val = avDataSource(ds, batch, Number(trained.meta.seed), 8).val;
    const losses: Record<string, number> = Object.fromEntries(el.losses.map((n) => [n, 0]));
    const latents = outputs.find((o) => o.name === "latents");
    const d = latents ? (el.graph.nodes.find((n) => n.id === latents.id)?.shape.at(-1) ?? 1) : 1;
    const sum = new Float64Array(d);
    let sumSq = 0;
    let vectors = 0;
    for (const b of val) {
      writeInputs(ex, b);
      const got = await ex.run(outputs.map((o) => o.name));
      for (const n of el.losses) losses[n] += got[n][0] / val.length;
      if (!latents) continue;
      const x = got.latents;
      for (let i = 0; i < x.length; i++) {
        sum[i % d] += x[i];
        sumSq += x[i] * x[i];
      }
      vectors += x.length / d;
    }
    if (!latents) return { losses };
    const meanSq = sum.reduce((s, v) => s + (v / vectors) ** 2, 0);
    return { losses, latentSpread: Math.sqrt(Math.max(0, sumSq / vectors - meanSq) / (sumSq / vectors)) };
  } finally {
    ex.destroy();
  }
}
