// init.ts: deterministic parameter values from a seed, on the CPU — one Float32Array per parameter.
// Each parameter draws from its own stream (a hash of its dotted name), so adding a parameter does
// not change the values of the others.
import type { ParamInfo } from "./eval.js";

/** xorshift-multiply generator (splitmix32): fast, seedable, good enough for initialisation. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

function hashName(name: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** Fan-in and fan-out as for a [.., fan_in, fan_out] weight. */
function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

export function initParam(p: ParamInfo, seed: number): Float32Array {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const next = rng(hashName(p.name, seed));
  const init = p.init;
  switch (init.kind) {
    case "zeros":
      break;
    case "ones":
      out.fill(1);
      break;
    case "constant":
      out.fill(init.value);
      break;
    case "uniform":
      for (let i = 0; i < n; i++) out[i] = init.lo + (init.hi - init.lo) * next();
      break;
    case "xavier": {
      const [fi, fo] = fans(p.shape);
      const limit = Math.sqrt(6 / (fi + fo));
      for (let i = 0; i < n; i++) out[i] = (2 * next() - 1) * limit;
      break;
    }
    case "normal":
      // Box–Muller; 1 − u keeps the log argument in (0, 1].
      for (let i = 0; i < n; i++)
        out[i] = init.std * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
      break;
  }
  return out;
}

export function initParams(params: readonly ParamInfo[], seed = 0): Map<string, Float32Array> {
  return new Map(params.map((p) => [p.name, initParam(p, seed)]));
}
