// clip.ts (tests): a seeded random clip for the video and spectrogram inputs of an elaborated Mirasol.

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

/** Values in [-1, 1) from a 32-bit LCG; the k-th of the clip's inputs draws from `seed + k`. */
export function randomClip(
  inputs: readonly { readonly name: string; readonly shape: readonly number[] }[],
  seed: number,
): Record<string, Float32Array> {
  return Object.fromEntries(
    inputs
      .filter((i) => i.name === "video" || i.name === "spectrogram")
      .map((i, k) => [
        i.name,
        random(
          i.shape.reduce((a, b) => a * b, 1),
          seed + k,
        ),
      ]),
  );
}
