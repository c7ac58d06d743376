// dtype.ts: element types of the IR, their storage in GPU buffers and their rounding on the CPU.

export type DType = "f32" | "f16" | "i32" | "u32" | "bool";

export const DTYPES: readonly DType[] = ["f32", "f16", "i32", "u32", "bool"];

export const isFloat = (t: DType): boolean => t === "f32" || t === "f16";
export const isInt = (t: DType): boolean => t === "i32" || t === "u32";

/** Bytes per element in a storage buffer; bool is stored as u32 (WGSL has no bool in storage). */
/** The bytes of a buffer of `count` elements: padded to a multiple of 4, at least 4. */
export const bufferBytes = (t: DType, count: number): number => Math.max(4, Math.ceil((count * byteSize(t)) / 4) * 4);

export function byteSize(t: DType): number {
  return t === "f16" ? 2 : 4;
}

/** WGSL scalar type used in storage arrays. */
export function storageType(t: DType): string {
  return t === "bool" ? "u32" : t;
}

/** Round a number to the nearest IEEE half (ties to even), returned as a JS number. */
export function roundF16(x: number): number {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a >= 65520) return x > 0 ? Infinity : -Infinity;
  if (a < 2 ** -24 * 0.5) return x < 0 ? -0 : 0;
  // Spacing of halves at this magnitude: 2^(e-10) for normals, 2^-24 for subnormals.
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q) - 0.5) < 1e-12 && r % 2 === 1) r -= 1; // ties to even
  return Math.sign(x) * r * ulp;
}

/** The value a CPU reference keeps after an op producing dtype `t`. */
export function roundTo(t: DType, x: number): number {
  switch (t) {
    case "f32":
      return Math.fround(x);
    case "f16":
      return roundF16(x);
    case "i32":
      return x | 0;
    case "u32":
      return x >>> 0;
    case "bool":
      return x ? 1 : 0;
  }
}

/** Half-precision bits (as stored in an f16 buffer) of a number. */
export function f16Bits(x: number): number {
  const r = roundF16(x);
  if (Number.isNaN(r)) return 0x7e00;
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | m;
}

export function fromF16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

/** Encode numbers as the bytes of a storage buffer of dtype `t`. */
export function encode(t: DType, values: ArrayLike<number>): HostArray {
  const n = values.length;
  switch (t) {
    case "f32":
      return Float32Array.from(values);
    case "i32":
      return Int32Array.from(values);
    case "u32":
      return Uint32Array.from(values);
    case "bool": {
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
      return out;
    }
    case "f16": {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f16Bits(values[i]);
      return out;
    }
  }
}

/** Decode the bytes of a storage buffer of dtype `t` into numbers. */
export function decode(t: DType, bytes: ArrayBuffer, n: number): Float64Array {
  const out = new Float64Array(n);
  switch (t) {
    case "f32":
      out.set(new Float32Array(bytes, 0, n));
      break;
    case "i32":
      out.set(new Int32Array(bytes, 0, n));
      break;
    case "u32":
    case "bool":
      out.set(new Uint32Array(bytes, 0, n));
      break;
    case "f16": {
      const h = new Uint16Array(bytes, 0, n);
      for (let i = 0; i < n; i++) out[i] = fromF16Bits(h[i]);
      break;
    }
  }
  return out;
}
