// golden-cases.ts: one small program per diagnostic code, for golden.test.ts. Each case names the
// code it must produce; the expected message and position live in the test beside it.
export interface GoldenCase {
  readonly code: string;
  readonly src: string;
  readonly preset?: string;
  readonly set?: readonly string[];
  /** Extra virtual files, by path relative to the models root. */
  readonly files?: Readonly<Record<string, string>>;
  readonly elaborate?: Readonly<Record<string, number>>;
  readonly decode?: string;
  readonly stream?: string;
}

const lm = (body: string, config = "d: int = 8"): string => `import std.nn
model M {
  config { ${config} }
  input tokens: i32[B, T]
${body}
}
`;

export const GOLDEN: readonly GoldenCase[] = [
  { code: "M1001", src: "module A()(x: f32[N]) -> f32[N] {\n  return x $ x\n}\n" },
  { code: "M1002", src: "module A()(x: f32[N]) -> f32[N] {\n  let y = (x + \n  return y\n}\n" },
  { code: "M1003", src: `module A()(x: f32[N]) -> f32[N] {\n  return ${"(".repeat(150)}x${")".repeat(150)}\n}\n` },
  { code: "M1004", src: "module A()(x: f32[N]) -> f32[N] {\n  return x * 1e999\n}\n" },
  { code: "M1005", src: "module A()(x: f32[N]) -> f32[N] {\n" + "  let = \n".repeat(120) + "  return x\n}\n" },
  { code: "M2001", src: lm("  let h = Embeding(32, d)(tokens)\n  output o = h") },
  { code: "M2002", src: "module A()(x: f32[N]) -> f32[N] {\n  let y = x\n  let y = x\n  return y\n}\n" },
  { code: "M2003", src: "module A(c: Combiner)(x: f32[N]) -> f32[N] {\n  return x\n}\n" },
  { code: "M2004", src: "import std.missing\nmodule A()(x: f32[N]) -> f32[N] {\n  return x\n}\n" },
  { code: "M2005", src: "import lib.a\n", files: { "lib/a.mira": "import lib.b\n", "lib/b.mira": "import lib.a\n" } },
  {
    code: "M2006",
    src: "module A()(x: f32[N]) -> f32[N] {\n  repeat 2 {\n    param w: f32[N] = zeros\n  }\n  return x\n}\n",
  },
  { code: "M2101", src: lm("  let h = Embedding(32, d, 4)(tokens)\n  output o = h") },
  { code: "M2102", src: lm("  let h = Embedding(32, width: d)(tokens)\n  output o = h") },
  { code: "M2103", src: lm("  let h = Embedding(32, 0.5)(tokens)\n  output o = h") },
  {
    code: "M2104",
    src: lm("  let h = Embedding(32, d)(tokens)\n  param w: f32[32, d] = zeros\n  output logits = h @ w"),
  },
  { code: "M2105", src: lm("  let h = Embedding(32, d)(tokens)\n  param b: f32[3] = zeros\n  output o = h + b") },
  { code: "M2106", src: lm("  let h = Embedding(32, d)(tokens)\n  output o = Linear(16, 4)(h)") },
  { code: "M2107", src: lm("  let h = Embedding(32, d)(tokens)\n  output o = TransformerBlock(d, 2)(h[:, 0])") },
  { code: "M2108", src: "module A()(x: f32[N, M]) -> f32[N, M] {\n  return x[:, 1:]\n}\n" },
  { code: "M2109", src: "module A()(x: f32[N, M]) -> f32[N] {\n  return sum(x, axis: 2)\n}\n" },
  { code: "M2110", src: "module A()(x: f32[N, M]) -> f32[N] {\n  return reshape(x, [N, M, 2])\n}\n" },
  { code: "M2111", src: lm("  output o = tokens + Embedding(32, d)(tokens)") },
  { code: "M2201", src: "interface I(x: f32[N]) -> f32[out]\nmodule A(k: int) implements I {\n  return x[:k]\n}\n" },
  {
    code: "M2202",
    src: "interface I(x: f32[N]) -> f32[out]\nmodule A(k: int) implements I(out = k, size = k) {\n  return x[:k]\n}\n",
  },
  {
    code: "M2203",
    src:
      "import std.nn\ninterface I(x: f32[N]) -> f32[out]\nmodule U(inner: I)(x: f32[N]) -> f32[N] {\n" +
      "  return x\n}\nmodel M {\n  config { d: int = 4 }\n  input x: f32[B, d]\n" +
      "  output o = U(LayerNorm(d))(x)\n}\n",
  },
  { code: "M2204", src: "module A()(x: f32[N]) -> f32[N] {\n  let y = x\n}\n" },
  { code: "M2301", src: "module A()(x: f32[N]) -> f32[N] {\n  param w: f32[N] = zeros\n  return x\n}\n" },
  {
    code: "M2303",
    src: "import std.nn\nmodule A(d: int)(x: f32[N, d]) -> f32[N, d] {\n  let proj = Linear(d, d)\n  return x\n}\n",
  },
  { code: "M2302", src: lm("  let h = Embedding(32, d)(tokens)") },
  { code: "M3001", src: lm("  output o = Embedding(32, d)(tokens)"), preset: "huge" },
  { code: "M3002", src: lm("  output o = Embedding(32, d)(tokens)"), set: ["dd=4"] },
  { code: "M3003", src: lm("  output o = Embedding(32, d)(tokens)"), set: ["d=(4"] },
  { code: "M3004", src: lm("  output o = Embedding(32, d)(tokens)"), elaborate: { B: 2 } },
  {
    code: "M3005",
    src: lm("  output o = MultiHeadAttention(d, 3)(Embedding(32, d)(tokens), Embedding(32, d)(tokens))"),
    elaborate: { B: 2, T: 4 },
  },
  {
    code: "M3006",
    src: lm(
      "  input lengths: i32[N]\n  let h = reshape(Embedding(32, d)(tokens), [B, 1, T, d])\n" +
        "  output o = attention(h, h, h, mask: padding(lengths))",
    ),
    elaborate: { B: 2, T: 4, N: 3 },
  },
  {
    code: "M3007",
    src: lm(
      "  let h = Embedding(32, d)(tokens)\n  output logits = h + reshape(mean(h, axis: 1), [B, 1, d])\n" +
        "  generate tokens from logits",
    ),
    elaborate: { B: 1 },
    decode: "T",
  },
  {
    code: "M3008",
    src: lm(
      "  input x: f32[B, chunks, d]\n  let memory = reshape(x - reshape(mean(x, axis: 1), [B, 1, d]), [B, " +
        "1, chunks, d])\n  let h = reshape(Embedding(32, d)(tokens), [B, 1, T, d])\n" +
        "  output logits = reshape(attention(h, memory, memory, mask: cross), [B, T, d])\n" +
        "  generate tokens from logits",
      "d: int = 8\n    chunks: int = 2",
    ),
    elaborate: { B: 1 },
    decode: "T",
    stream: "chunks",
  },
];
