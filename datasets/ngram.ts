// ngram.ts: the baselines a character model must beat — the text's unigram entropy and a smoothed
// interpolated trigram model fitted on the training split, both as validation cross-entropy in nats.

/** Entropy (nats per character) of the unigram distribution of `ids`. */
export function unigramEntropy(ids: Int32Array, vocab: number): number {
  const counts = new Float64Array(vocab);
  for (const t of ids) counts[t]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / ids.length) * Math.log(c / ids.length);
  return h;
}

/**
 * Interpolated trigram with add-one smoothed unigrams: p = λ3·p(c|ab) + λ2·p(c|b) + λ1·p(c), with the
 * counts from the first 90 % of the training split and the λs chosen on its last 10 % from a small
 * grid, so the baseline is fitted without seeing the validation text it is scored on.
 */
export function trigramLoss(trainAll: Int32Array, val: Int32Array, vocab: number): number {
  const cut = Math.floor(trainAll.length * 0.9);
  const train = trainAll.subarray(0, cut);
  const tune = trainAll.subarray(cut);
  const uni = new Float64Array(vocab);
  const bi = new Map<number, number>();
  const biCtx = new Float64Array(vocab);
  const tri = new Map<number, number>();
  const triCtx = new Map<number, number>();
  for (let i = 0; i < train.length; i++) {
    const c = train[i];
    uni[c]++;
    if (i >= 1) {
      const b = train[i - 1];
      bi.set(b * vocab + c, (bi.get(b * vocab + c) ?? 0) + 1);
      biCtx[b]++;
    }
    if (i >= 2) {
      const ab = train[i - 2] * vocab + train[i - 1];
      tri.set(ab * vocab + c, (tri.get(ab * vocab + c) ?? 0) + 1);
      triCtx.set(ab, (triCtx.get(ab) ?? 0) + 1);
    }
  }
  const total = train.length;
  const prob = (i: number, l3: number, l2: number, ids: Int32Array): number => {
    const c = ids[i];
    const p1 = (uni[c] + 1) / (total + vocab);
    const b = ids[i - 1];
    const p2 = biCtx[b] ? (bi.get(b * vocab + c) ?? 0) / biCtx[b] : p1;
    const ab = ids[i - 2] * vocab + ids[i - 1];
    const ctx = triCtx.get(ab) ?? 0;
    const p3 = ctx ? (tri.get(ab * vocab + c) ?? 0) / ctx : p2;
    return l3 * p3 + l2 * p2 + (1 - l3 - l2) * p1;
  };
  const nll = (ids: Int32Array, l3: number, l2: number): number => {
    let s = 0;
    for (let i = 2; i < ids.length; i++) s -= Math.log(prob(i, l3, l2, ids));
    return s / Math.max(1, ids.length - 2);
  };
  let best = { l3: 0.6, l2: 0.3, loss: Infinity };
  for (const l3 of [0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    for (const l2 of [0.1, 0.2, 0.3, 0.4])
      if (l3 + l2 < 1) {
        const loss = nll(tune, l3, l2);
        if (loss < best.loss) best = { l3, l2, loss };
      }
  return nll(val, best.l3, best.l2);
}
