// tfjs.ts (bench/peers): the peer workloads in TensorFlow.js (tfjs-core with tfjs-backend-webgpu),
// eager ops as a tfjs user writes them: fused.matMul with bias (what tfjs-layers' Dense runs), layer
// norm from tf.moments, attention from batched matMul + a causal bias + softmax, exact GELU from
// tf.erf; tf.valueAndGrads for the gradients. Not imported by Node directly: load-tfjs.ts bundles it
// with esbuild (tfjs-core's Node build lacks chained ops and gradients), and navigator.gpu must be set
// before the bundle runs, since the backend registers itself only when it sees WebGPU.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js";
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";
import "@tensorflow/tfjs-backend-webgpu";
import { BLOCK, ELEMENTWISE, GRAD_NAMES, PARAMS, type PeerEngine, type Values } from "./workload.js";

export async function createTfjs(values: Values, xElementwise: Float32Array): Promise<PeerEngine> {
  if (!(await tf.setBackend("webgpu"))) throw new Error("tfjs could not initialize its webgpu backend");
  await tf.ready();
  const { B, T, D, HEADS, EPS } = BLOCK;
  const dh = D / HEADS;

  const names = GRAD_NAMES; // parameters, then x
  const tensors = names.map((n) =>
    n === "x" ? tf.tensor(values.x, [B * T, D]) : tf.tensor(values[n], [...PARAMS.find(([p]) => p === n)![1]]),
  );
  const half = tf.scalar(0.5);
  const one = tf.scalar(1);
  const rsqrt2 = tf.scalar(Math.SQRT1_2);
  const eps = tf.scalar(EPS);
  const scale = tf.scalar(1 / Math.sqrt(dh));
  const causalBias = tf.tensor(
    Float32Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 0 : -1e30)),
    [T, T],
  );
  const gelu = (v: tf.Tensor): tf.Tensor => tf.mul(tf.mul(v, half), tf.add(one, tf.erf(tf.mul(v, rsqrt2))));

  const block = (ts: readonly tf.Tensor[]): tf.Tensor => {
    const p = Object.fromEntries(names.map((n, i) => [n, ts[i]]));
    const x = p.x; // [B·T, D]
    const dense = (v: tf.Tensor, w: string, b: string): tf.Tensor => tf.fused.matMul({ a: v, b: p[w], bias: p[b] });
    const layerNorm = (v: tf.Tensor, g: string, b: string): tf.Tensor => {
      const { mean, variance } = tf.moments(v, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(v, mean), tf.rsqrt(tf.add(variance, eps))), p[g]), p[b]);
    };
    const heads = (v: tf.Tensor): tf.Tensor => tf.transpose(tf.reshape(v, [B, T, HEADS, dh]), [0, 2, 1, 3]);
    const h = layerNorm(x, "ln1_g", "ln1_b");
    const q = heads(dense(h, "wq", "bq"));
    const k = heads(dense(h, "wk", "bk"));
    const v = heads(dense(h, "wv", "bv"));
    const probs = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), causalBias));
    const o = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [B * T, D]);
    const y = tf.add(x, dense(o, "wo", "bo"));
    const up = gelu(dense(layerNorm(y, "ln2_g", "ln2_b"), "w1", "b1"));
    return tf.add(y, dense(up, "w2", "b2"));
  };
  const valueAndGrads = tf.valueAndGrads((...ts: tf.Tensor[]) => tf.mean(block(ts)) as tf.Scalar);

  const ex = tf.tensor1d(xElementwise);
  const [a, b, c] = [ELEMENTWISE.a, ELEMENTWISE.b, ELEMENTWISE.c].map((s) => tf.scalar(s)); // runtime values
  const elementwise = (): tf.Tensor => tf.tidy(() => tf.mul(gelu(tf.add(tf.mul(ex, a), b)), c));

  const scalarOf = async (t: tf.Tensor): Promise<number> => {
    const v = (await t.data())[0];
    t.dispose();
    return v;
  };
  const forwardOnce = (): { y: tf.Tensor; loss: tf.Tensor } =>
    tf.tidy(() => {
      const y = block(tensors);
      return { y, loss: tf.mean(y) };
    });
  return {
    name: "tfjs-webgpu",
    async forward() {
      const { y, loss } = forwardOnce();
      y.dispose();
      return scalarOf(loss);
    },
    async forwardBackward() {
      const { value, grads } = tf.tidy(() => valueAndGrads(tensors));
      tf.dispose(grads);
      return scalarOf(value);
    },
    elementwise: async () => {
      const y = elementwise();
      const first = tf.slice(y, [0], [1]);
      y.dispose();
      return scalarOf(first);
    },
    async blockResults() {
      const { y, loss } = forwardOnce();
      const { grads } = tf.tidy(() => valueAndGrads(tensors));
      const out: Record<string, Float32Array> = {};
      for (let i = 0; i < names.length; i++) out[names[i]] = Float32Array.from(await grads[i].data());
      const result = { y: Float32Array.from(await y.data()), loss: await scalarOf(loss), grads: out };
      tf.dispose([y, ...grads]);
      return result;
    },
    async elementwiseResult() {
      const y = elementwise();
      const out = Float32Array.from(await y.data());
      y.dispose();
      return out;
    },
    dispose() {
      tf.dispose([...tensors, half, one, rsqrt2, eps, scale, causalBias, ex, a, b, c]);
    },
  };
}
