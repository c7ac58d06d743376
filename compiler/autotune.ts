// autotune.ts: the matmul tuning table, as plain data. A matmul's signature (dtype, transposes, batch,
// M, N, K, whether an epilogue is fused) names a kernel's work; a table maps signatures to the kernel
// configuration measured fastest on one adapter (runtime/autotune.ts measures, `mira bench --autotune`
// runs it). The compiler only looks a signature up: nothing is ever measured at compile time, and a
// signature missing from the table gets the default configuration.
import { GraphBuilder } from "./builder.js";
import type { DType } from "./dtype.js";
import type { Graph, Node } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { kernelMatmulDims } from "./ops/linalg.js";
import { prod } from "./shape.js";
import {
  DEFAULT_WX,
  DEFAULT_WY,
  type MatmulChoice,
  type MatmulVariant,
  PACKED_THREADS,
  chooseMatmulVariant,
} from "./wgsl/matmul.js";
import { MiraError } from "../base/errors.js";

export interface MatmulSignature {
  readonly dtype: DType;
  readonly transA: boolean;
  readonly transB: boolean;
  /** product of the output's batch dims (1 for a plain matrix product) */
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** an elementwise group is applied before the store (scalar stores instead of vec4) */
  readonly epilogue: boolean;
}

/** A kernel choice plus split-K: K cut into `splitK` slices whose partial products a reduction sums
 *  (passes/split-k.ts), so a skinny C with a long K spreads over more workgroups. */
export interface MatmulConfig extends MatmulChoice {
  readonly splitK?: number;
}

export interface TuningEntry {
  readonly config: MatmulConfig;
  /** the default configuration's and this configuration's median times when measured */
  readonly defaultMs: number;
  readonly bestMs: number;
}

export interface TuningTable {
  readonly version: typeof TABLE_VERSION;
  /** runtime/autotune-cache.ts adapterKey: the adapter and driver the figures belong to */
  readonly adapter: string;
  readonly entries: Readonly<Record<string, TuningEntry>>;
}

export const TABLE_VERSION = 1;

/** A table that cannot be used: bad JSON, another version, a malformed entry. */
export class TableFormatError extends MiraError {
  readonly kind = "bad-input";
  override name = "TableFormatError";
}

const VARIANTS: readonly MatmulVariant[] = ["registers", "shared", "packed"];
const DTYPES: readonly DType[] = ["f32", "f16", "i32", "u32", "bool"];

export function signatureOf(mm: Node, a: Node, b: Node, epilogue: boolean): MatmulSignature {
  const transA = !!mm.attrs.transA;
  const transB = !!mm.attrs.transB;
  const { batch, m, n, k } = kernelMatmulDims(a, b, { transA, transB });
  return { dtype: a.dtype, transA, transB, batch: prod(batch), m, n, k, epilogue };
}

/** "f32:tn:1x32x96x1024" (+ ":epilogue"): t/n for transposed or not, A then B. */
export function signatureKey(s: MatmulSignature): string {
  return (
    `${s.dtype}:${s.transA ? "t" : "n"}${s.transB ? "t" : "n"}:` +
    `${s.batch}x${s.m}x${s.n}x${s.k}${s.epilogue ? ":epilogue" : ""}`
  );
}

export function parseSignatureKey(key: string): MatmulSignature | undefined {
  const m = /^(\w+):([tn])([tn]):(\d+)x(\d+)x(\d+)x(\d+)(:epilogue)?$/.exec(key);
  if (!m || !(DTYPES as readonly string[]).includes(m[1])) return undefined;
  const [batch, mm, n, k] = [m[4], m[5], m[6], m[7]].map(Number);
  if (![batch, mm, n, k].every((d) => Number.isSafeInteger(d) && d > 0)) return undefined;
  return { dtype: m[1] as DType, transA: m[2] === "t", transB: m[3] === "t", batch, m: mm, n, k, epilogue: !!m[8] };
}

/** A graph of just this signature's matmul — inputs `a`, `b` (and `r`, added after the product so
 *  that fusion makes it an epilogue), output `c` — for timing candidates and testing them. */
export function signatureGraph(s: MatmulSignature): Graph {
  const b = new GraphBuilder();
  const lead = s.batch > 1 ? [s.batch] : [];
  const x = b.input("a", s.dtype, [...lead, ...(s.transA ? [s.k, s.m] : [s.m, s.k])]);
  const y = b.input("b", s.dtype, [...lead, ...(s.transB ? [s.n, s.k] : [s.k, s.n])]);
  const mm = b.add("matmul", [x, y], { transA: s.transA, transB: s.transB });
  b.output("c", s.epilogue ? b.add("add", [mm, b.input("r", s.dtype, mm.shape)]) : mm);
  return b.build();
}

/** "f32 Aᵀ·B 32×96×1024 (batch 1, epilogue)" for tables printed to people. */
export function describeSignature(s: MatmulSignature): string {
  const extra = [s.batch > 1 ? `batch ${s.batch}` : "", s.epilogue ? "epilogue" : ""].filter(Boolean).join(", ");
  return `${s.dtype} A${s.transA ? "ᵀ" : ""}·B${s.transB ? "ᵀ" : ""} ${s.m}×${s.n}×${s.k}${extra ? ` (${extra})` : ""}`;
}

/** What compiles when no table says otherwise: the adapter's variant, no split. On a software adapter:
 *  a batch of matrices so small that an 8×8 workgroup per matrix would leave three quarters of its
 *  threads idle packs the batch's tiles ("packed"); otherwise the register kernel's workgroup is 8×8
 *  threads, narrowed along an axis the matrix does not fill and widened along the other up to as many
 *  threads. A skinny C (a decoding step's single row) would otherwise leave 7 of 8 thread rows running
 *  the K loop past the edge. */
export function defaultConfig(limits: DeviceLimits, s?: MatmulSignature): MatmulConfig {
  const variant = chooseMatmulVariant(limits);
  if (variant !== "registers" || !s) return normalize({ variant });
  if (s.batch > 1 && Math.ceil(s.m / TM) * Math.ceil(s.n / TN) < (DEFAULT_WX * DEFAULT_WY) / 4)
    return normalize({ variant: "packed" });
  return normalize({ variant, ...fittedShape(s, limits) });
}

/** 8×8 threads clipped to the matrix's tiles (powers of two), then doubled along an axis with tiles
 *  left, N first, while the workgroup has fewer than 64 threads. */
function fittedShape(s: MatmulSignature, limits: DeviceLimits): { wx: number; wy: number } {
  const maxWx = pow2AtLeast(Math.ceil(s.n / TN));
  const maxWy = pow2AtLeast(Math.ceil(s.m / TM));
  const threads = Math.min(DEFAULT_WX * DEFAULT_WY, limits.maxComputeInvocationsPerWorkgroup);
  let wx = Math.min(DEFAULT_WX, maxWx);
  let wy = Math.min(DEFAULT_WY, maxWy);
  while (wx * wy * 2 <= threads && (wx < maxWx || wy < maxWy)) {
    if (wx < maxWx) wx *= 2;
    else wy *= 2;
  }
  return { wx, wy };
}

/** Explicit fields, so configs compare and print alike (wx/wy only mean something for "registers"). */
export function normalize(c: MatmulConfig): MatmulConfig {
  const splitK = c.splitK ?? 1;
  return c.variant === "registers"
    ? { variant: c.variant, wx: c.wx ?? DEFAULT_WX, wy: c.wy ?? DEFAULT_WY, splitK }
    : { variant: c.variant, splitK };
}

export function sameConfig(a: MatmulConfig, b: MatmulConfig): boolean {
  return configLabel(a) === configLabel(b);
}

/** "registers 4×8", "registers 8×8 split-K 4", "shared 64×64", "packed 64". */
export function configLabel(c: MatmulConfig): string {
  const n = normalize(c);
  const split = (n.splitK ?? 1) > 1 ? ` split-K ${n.splitK}` : "";
  return n.variant === "registers"
    ? `registers ${n.wx}×${n.wy}${split}`
    : n.variant === "packed"
      ? `packed ${PACKED_THREADS}${split}`
      : `shared 64×64${split}`;
}

/** Whether `c` can compile for `s` on a device with `limits` (a hand-edited or stale table is checked,
 *  never trusted): the workgroup fits, and split-K slices K evenly, in f32 (partial sums rounded to f16
 *  would lose what the reference keeps). */
export function applicable(c: MatmulConfig, s: MatmulSignature, limits: DeviceLimits): boolean {
  const n = normalize(c);
  const split = n.splitK ?? 1;
  if (split > 1 && (s.dtype !== "f32" || s.k % split !== 0 || split > s.k)) return false;
  if (n.variant === "shared")
    return limits.maxComputeInvocationsPerWorkgroup >= 256 && limits.maxComputeWorkgroupStorageSize >= 2 * 64 * 16 * 4;
  if (n.variant === "packed") return limits.maxComputeInvocationsPerWorkgroup >= PACKED_THREADS;
  return n.wx! * n.wy! <= limits.maxComputeInvocationsPerWorkgroup;
}

/** The tuned configuration for `s`, when the table has one that applies. */
export function lookupMatmul(
  table: TuningTable | undefined,
  s: MatmulSignature,
  limits: DeviceLimits,
): MatmulConfig | undefined {
  const e = table?.entries[signatureKey(s)];
  return e && applicable(e.config, s, limits) ? normalize(e.config) : undefined;
}

/** Workgroup shapes (threads along N × along M) tried for the register-tiled kernel, 8×8 first. */
export const REGISTER_SHAPES: readonly (readonly [number, number])[] = [
  [8, 8],
  [16, 4],
  [4, 16],
  [4, 4],
  [8, 4],
  [4, 8],
  [16, 8],
  [8, 16],
  [2, 8],
  [8, 2],
  [2, 4],
  [4, 2],
  [2, 2],
  [16, 16],
  [1, 8],
  [8, 1],
  [1, 16],
  [16, 1], // for N ≤ 8 (one thread wide) and M ≤ 4 (one thread tall)
];
const TM = 4; // rows of C per thread (wgsl/matmul.ts)
const TN = 8; // columns of C per thread

const pow2AtLeast = (x: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/** Candidates without split-K: the default, every register shape whose workgroup does not overshoot the
 *  matrix (an idle thread still runs the whole K loop on clamped loads, so an oversize workgroup only
 *  costs), and the shared variant. */
export function tileCandidates(s: MatmulSignature, limits: DeviceLimits): MatmulConfig[] {
  const out: MatmulConfig[] = [defaultConfig(limits, s)];
  const maxWx = pow2AtLeast(Math.ceil(s.n / TN));
  const maxWy = pow2AtLeast(Math.ceil(s.m / TM));
  for (const [wx, wy] of REGISTER_SHAPES) {
    if (wx > maxWx || wy > maxWy) continue;
    out.push({ variant: "registers", wx, wy, splitK: 1 });
  }
  out.push({ variant: "shared", splitK: 1 });
  if (s.batch > 1) out.push({ variant: "packed", splitK: 1 });
  return dedupe(out.filter((c) => applicable(c, s, limits)));
}

/** Split-K candidates built on the given (fastest) tiles: only for a long K over few output tiles,
 *  slices of at least 64, 2 to 8 of them. */
export function splitCandidates(
  s: MatmulSignature,
  tiles: readonly MatmulConfig[],
  limits: DeviceLimits,
): MatmulConfig[] {
  const outTiles = s.batch * Math.ceil(s.m / (TM * DEFAULT_WY)) * Math.ceil(s.n / (TN * DEFAULT_WX));
  if (outTiles > 16 || s.k < 128) return [];
  const out: MatmulConfig[] = [];
  for (const t of tiles) for (const splitK of [2, 4, 8]) if (s.k / splitK >= 64) out.push({ ...normalize(t), splitK });
  return dedupe(out.filter((c) => applicable(c, s, limits)));
}

function dedupe(cs: readonly MatmulConfig[]): MatmulConfig[] {
  const seen = new Set<string>();
  return cs.map(normalize).filter((c) => !seen.has(configLabel(c)) && !!seen.add(configLabel(c)));
}

export function emptyTable(adapter: string): TuningTable {
  return { version: TABLE_VERSION, adapter, entries: {} };
}

/** `table` with `entries` added (replacing those of the same signature). */
export function withEntries(table: TuningTable, entries: Readonly<Record<string, TuningEntry>>): TuningTable {
  return { ...table, entries: { ...table.entries, ...entries } };
}

export function serializeTable(t: TuningTable): string {
  const entries = Object.fromEntries(
    Object.keys(t.entries)
      .sort()
      .map((k) => [k, { ...t.entries[k], config: normalize(t.entries[k].config) }]),
  );
  return `${JSON.stringify({ version: t.version, adapter: t.adapter, entries }, null, 2)}\n`;
}

/** Parses and checks a table; any defect throws TableFormatError naming it (the caller ignores the
 *  file with a warning: a table only ever makes kernels faster, never decides what they compute). */
export function parseTable(text: string): TuningTable {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TableFormatError(`not JSON (${(e as Error).message})`);
  }
  const o = asRecord(raw, "the table");
  if (o.version !== TABLE_VERSION)
    throw new TableFormatError(`version ${JSON.stringify(o.version)}, expected ${TABLE_VERSION}`);
  if (typeof o.adapter !== "string") throw new TableFormatError("no adapter key");
  const entries: Record<string, TuningEntry> = {};
  for (const [key, v] of Object.entries(asRecord(o.entries, "entries"))) {
    if (!parseSignatureKey(key)) throw new TableFormatError(`malformed signature '${key}'`);
    const e = asRecord(v, `entry '${key}'`);
    entries[key] = {
      config: parseConfig(e.config, key),
      defaultMs: finite(e.defaultMs, key),
      bestMs: finite(e.bestMs, key),
    };
  }
  return { version: TABLE_VERSION, adapter: o.adapter, entries };
}

function parseConfig(v: unknown, key: string): MatmulConfig {
  const c = asRecord(v, `config of '${key}'`);
  if (!(VARIANTS as readonly unknown[]).includes(c.variant))
    throw new TableFormatError(`unknown variant ${JSON.stringify(c.variant)} in '${key}'`);
  const int = (x: unknown, what: string): number | undefined => {
    if (x === undefined) return undefined;
    if (typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > 1024)
      throw new TableFormatError(`${what} ${JSON.stringify(x)} in '${key}'`);
    return x;
  };
  return normalize({
    variant: c.variant as MatmulVariant,
    wx: int(c.wx, "wx"),
    wy: int(c.wy, "wy"),
    splitK: int(c.splitK, "splitK"),
  });
}

function asRecord(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TableFormatError(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function finite(v: unknown, key: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
    throw new TableFormatError(`time ${JSON.stringify(v)} in '${key}'`);
  return v;
}
