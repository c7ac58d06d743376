// losses.ts (experiments): every loss a trained audio-video model declares (text, latent, reconstruction
// for Mirasol), measured on the validation batches whatever weight λ it was trained with, so that runs
// with different λ can be compared on each; and, for a model with a `latents` output, how varied its
// latents are (collapse makes them all alike) and how much of that varies with the clip rather than
// with the latent's place (chunk, slot) alone. No CLI prints these; E3 reads them.
import { avBatchDims, avDataSource, writeInputs } from "../../apps/mirasol/av.js";
import { loadWeights, openTrained } from "../../api/trained.js";
import { compileFor } from "../../runtime/autotune-cache.js";
import { loadAvDataset } from "../../datasets/av-format.js";
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
  /**
   * How much the latents depend on the clip: √(E‖x − E_clips x‖²) / √(E‖x‖²), the mean taken per place
   * (chunk and slot) over the clips — 0 when every clip gets the same latents at each place (the spread
   * above can stay high: different places, content-free values), near the spread when places share one
   * mean.
   */
  readonly clipSpread?: number;
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
    const shape = latents ? (el.graph.nodes.find((n) => n.id === latents.id)?.shape ?? [1]) : [1];
    const spreads = new LatentSpreads(
      shape.at(-1) ?? 1,
      shape.slice(1).reduce((a, b) => a * b, 1),
    );
    for (const b of val) {
      writeInputs(ex, b);
      const got = await ex.run(outputs.map((o) => o.name));
      for (const n of el.losses) losses[n] += got[n][0] / val.length;
      if (latents) spreads.add(got.latents);
    }
    return latents ? { losses, ...spreads.result() } : { losses };
  } finally {
    ex.destroy();
  }
}

/**
 * Accumulates the two spreads of ValidationMeasures over batches of latents laid out clip-major, each
 * clip `perClip` values (places × d), each vector `d` values.
 */
export class LatentSpreads {
  private readonly sum: Float64Array;
  private readonly sumAtPlace: Float64Array;
  private sumSq = 0;
  private values = 0;

  constructor(
    private readonly d: number,
    private readonly perClip: number,
  ) {
    this.sum = new Float64Array(d);
    this.sumAtPlace = new Float64Array(perClip);
  }

  add(x: ArrayLike<number>): void {
    for (let i = 0; i < x.length; i++) {
      this.sum[i % this.d] += x[i];
      this.sumAtPlace[i % this.perClip] += x[i];
      this.sumSq += x[i] * x[i];
    }
    this.values += x.length;
  }

  result(): { latentSpread: number; clipSpread: number } {
    const vectors = this.values / this.d;
    const clips = this.values / this.perClip;
    const norm = this.sumSq / vectors; // E‖x‖²
    // ‖E x‖², and E‖E_clips x‖² over the places: (Σ_places ‖Σ_clips x‖² / clips) / vectors
    const meanSq = this.sum.reduce((s, v) => s + (v / vectors) ** 2, 0);
    const placeMeanSq = this.sumAtPlace.reduce((s, v) => s + (v * v) / clips, 0) / vectors;
    return {
      latentSpread: Math.sqrt(Math.max(0, norm - meanSq) / norm),
      clipSpread: Math.sqrt(Math.max(0, norm - placeMeanSq) / norm),
    };
  }
}
