// protobuf.ts: the protocol-buffer wire format, write side only — enough for ONNX files (onnx.ts)
// without a protobuf dependency. A message is a sequence of (field number, wire type) tags and values:
// varints (type 0), 32-bit little-endian floats (type 5) and length-delimited bytes (type 2: strings,
// bytes, nested messages). Repeated scalars are written unpacked, which every parser accepts.

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.byteLength;
  }

  private rawVarint(value: bigint): void {
    // Negative int64 values are their 64-bit two's complement: ten bytes.
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v) byte |= 0x80;
      out.push(byte);
    } while (v);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: 0 | 2 | 5): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  /** int32, int64, enum or bool fields. */
  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.rawVarint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.rawVarint(BigInt(value.byteLength));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}
