// jax.ts (bench/peers): the peer workloads in @jax-js/jax on its WebGPU device — the block as one
// function of a parameter dict, `jit` for the forward and `jit(valueAndGrad(...))` for forward +
// backward, written as a jax-js user would (nn.standardize, nn.dotProductAttention with isCausal,
// nn.gelu exact). jax-js reads `navigator.gpu` when it initializes, so it is given the Dawn instance of
// this process before it is imported; it requests its own adapter and device from it.
import type * as JaxModule from "@jax-js/jax";
import { provideNavigator } from "./gpu.js";
import { BLOCK, ELEMENTWISE, GRAD_NAMES, PARAMS, type PeerEngine, type Values, X_SHAPE } from "./workload.js";

type Arr = JaxModule.Array;
type Params = Record<string, Arr>;

/** jax-js 0.1.25 parses einsum subscripts (dotProductAttention uses einsum) with iterator helpers —
 *  `str.matchAll(re).map(…)` — which V8 has from Node 22 on. On Node 20 the two it uses, `map` and
 *  `filter`, are supplied on %IteratorPrototype% (lazy, as specified; trace time only, never timed). */
export function supplyIteratorHelpers(): void {
  type Helpers = { map?: unknown; filter?: unknown };
  const proto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as Helpers;
  if (typeof proto.map !== "function") {
    Object.defineProperty(proto, "map", {
      configurable: true,
      writable: true,
      value: function* map(this: Iterable<unknown>, f: (v: unknown, i: number) => unknown) {
        let i = 0;
        for (const v of this) yield f(v, i++);
      },
    });
  }
  if (typeof proto.filter !== "function") {
    Object.defineProperty(proto, "filter", {
      configurable: true,
      writable: true,
      value: function* filter(this: Iterable<unknown>, f: (v: unknown, i: number) => unknown) {
        let i = 0;
        for (const v of this) if (f(v, i++)) yield v;
      },
    });
  }
}

export async function createJax(gpu: GPU, values: Values, xElementwise: Float32Array): Promise<PeerEngine> {
  provideNavigator(gpu);
  supplyIteratorHelpers();
  const jax: typeof JaxModule = await import("@jax-js/jax");
  const available = await jax.init("webgpu");
  if (!available.includes("webgpu"))
    throw new Error(`jax-js initialized no WebGPU device (it has: ${available.join(", ")})`);
  jax.defaultDevice("webgpu");
  const { numpy: np, nn } = jax;
  const { B, T, D, HEADS, EPS } = BLOCK;

  const held: Params = {};
  for (const [name, shape] of PARAMS) held[name] = np.array(values[name]).reshape([...shape]);
  held.x = np.array(values.x).reshape([...X_SHAPE]);
  const fresh = (): Params => Object.fromEntries(Object.entries(held).map(([k, v]) => [k, v.ref]));

  // Ownership as jax-js wants it: every argument is consumed once; `.ref` for a second use.
  const layerNorm = (v: Arr, g: Arr, b: Arr): Arr => nn.standardize(v, -1, { epsilon: EPS }).mul(g).add(b);
  const linear = (v: Arr, w: Arr, b: Arr): Arr => np.matmul(v, w).add(b);
  const block = (p: Params): Arr => {
    const x = p.x;
    const h = layerNorm(x.ref, p.ln1_g, p.ln1_b);
    const heads = (v: Arr): Arr => v.reshape([B, T, HEADS, D / HEADS]); // [B, L, N, H] as dotProductAttention takes
    const q = heads(linear(h.ref, p.wq, p.bq));
    const k = heads(linear(h.ref, p.wk, p.bk));
    const v = heads(linear(h, p.wv, p.bv));
    const o = nn.dotProductAttention(q, k, v, { isCausal: true }).reshape([B, T, D]);
    const y = x.add(linear(o, p.wo, p.bo));
    const up = nn.gelu(linear(layerNorm(y.ref, p.ln2_g, p.ln2_b), p.w1, p.b1), { approximate: false });
    return y.add(linear(up, p.w2, p.b2));
  };
  const forward = jax.jit((p: Params): [Arr, Arr] => {
    const y = block(p);
    return [y.ref, y.mean()];
  });
  const forwardBackward = jax.jit(jax.valueAndGrad((p: Params): Arr => block(p).mean()));

  const ex = np.array(xElementwise);
  const scalars = [ELEMENTWISE.a, ELEMENTWISE.b, ELEMENTWISE.c].map((s) => np.array(s)); // rank 0, runtime values
  const elementwise = jax.jit(
    (x: Arr, a: Arr, b: Arr, c: Arr): Arr => nn.gelu(x.mul(a).add(b), { approximate: false }).mul(c),
  );
  const runElementwise = (): Arr => elementwise(ex.ref, scalars[0].ref, scalars[1].ref, scalars[2].ref);

  const first = async (a: Arr): Promise<number> => (await a.data())[0];
  return {
    name: "jax-js",
    async forward() {
      const [y, loss] = forward(fresh());
      await jax.blockUntilReady(y);
      y.dispose();
      return first(loss);
    },
    async forwardBackward() {
      const [loss, grads] = forwardBackward(fresh());
      await jax.blockUntilReady(grads);
      jax.tree.dispose(grads);
      return first(loss);
    },
    async elementwise() {
      return first(runElementwise().slice([0, 1]));
    },
    async blockResults() {
      const [y, loss] = forward(fresh());
      const [, grads] = forwardBackward(fresh());
      const out: Record<string, Float32Array> = {};
      for (const n of GRAD_NAMES) out[n] = Float32Array.from(await grads[n].data());
      return { y: Float32Array.from(await y.data()), loss: await first(loss), grads: out };
    },
    elementwiseResult: async () => Float32Array.from(await runElementwise().data()),
    dispose() {
      jax.tree.dispose(held);
      ex.dispose();
      for (const s of scalars) s.dispose();
      for (const f of [forward, forwardBackward, elementwise]) f.dispose();
    },
  };
}
