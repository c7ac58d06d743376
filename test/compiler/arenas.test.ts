// arenas.test.ts: buffers packed into arenas (compiler/arenas.ts). Placement on hand-made buffer lists
// (alignment, what stays apart, a new arena when one is full); the read-only bindings made writable where
// a dispatch also writes into the same arena (WebGPU refuses one buffer bound both ways in a dispatch);
// and on the GPU, programs with arenas give the same bits as without, alone and under sequence and
// parallel kernels, where one binding now carries every member. The dispatch counts they bring are in
// dispatch-counts.test.ts.
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { NO_HOMES, homesOf, placeInArenas, programBytes, writableArenas } from "../../compiler/arenas.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { type Dispatch, type ProgramBuffer, compileGraph } from "../../compiler/program.js";
import type { KernelSource } from "../../compiler/wgsl/common.js";
import { charLmDecodeCase, charLmTrainCase, compareOption, randomGraphsMerged } from "../helpers/variants.js";
import { testGpu } from "../helpers/gpu.js";

const buffer = (id: number, bytes: number, dtype: ProgramBuffer["dtype"] = "f32"): ProgramBuffer => ({
  id,
  dtype,
  shape: [bytes / (dtype === "f16" ? 2 : 4)],
  bytes,
  role: "temp",
});

describe("placement", () => {
  test("members at 256-byte offsets, arenas within one binding; f16, windowed and copied buffers apart", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ words: fc.integer({ min: 1, max: 600 }), f16: fc.boolean() }), { maxLength: 40 }),
        fc.integer({ min: 256, max: 4096 }).map((b) => b * 4),
        fc.integer({ min: 0, max: 39 }),
        (sizes, binding, copied) => {
          const buffers = sizes.map((s, i) => buffer(i, (s.f16 ? 2 : 4) * s.words * 2, s.f16 ? "f16" : "f32"));
          const limits = { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: binding };
          const placed = placeInArenas(buffers, limits, new Set([copied]));
          const arenas = placed.filter((b) => b.role === "arena");
          expect(placed.slice(0, buffers.length).map(({ home, ...b }) => b)).toEqual(buffers);
          for (const b of placed.slice(0, buffers.length)) {
            const eligible = b.dtype !== "f16" && b.bytes <= binding && b.id !== copied;
            expect(b.home !== undefined, `buffer ${b.id}`).toBe(eligible);
            if (!b.home) continue;
            const arena = placed[b.home.arena];
            expect(arena.role).toBe("arena");
            expect(b.home.offset % 256).toBe(0);
            expect(b.home.offset + b.bytes).toBeLessThanOrEqual(arena.bytes);
          }
          for (const a of arenas) expect(a.bytes).toBeLessThanOrEqual(binding);
          // members of one arena do not overlap
          const members = placed.filter((b) => b.home).sort((x, y) => x.home!.offset - y.home!.offset);
          for (const a of arenas) {
            const mine = members.filter((b) => b.home!.arena === a.id);
            for (let i = 1; i < mine.length; i++)
              expect(mine[i].home!.offset).toBeGreaterThanOrEqual(mine[i - 1].home!.offset + mine[i - 1].bytes);
          }
          expect(programBytes(placed)).toBe(programBytes(buffers));
          expect(homesOf(placed).size).toBe(members.length);
        },
      ),
    );
  });

  test("a buffer that does not fit what is left opens the next arena", () => {
    const limits = { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 1024 };
    const placed = placeInArenas([buffer(0, 600), buffer(1, 600), buffer(2, 200)], limits);
    expect(placed.map((b) => b.home)).toEqual([
      { arena: 3, offset: 0 },
      { arena: 4, offset: 0 },
      { arena: 4, offset: 768 },
      undefined,
      undefined,
    ]);
    expect(placed.slice(3).map((b) => [b.role, b.bytes])).toEqual([
      ["arena", 600],
      ["arena", 968],
    ]);
  });
});

describe("read-only bindings beside a written one in the same arena", () => {
  const kernel: KernelSource = {
    name: "k",
    code: `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() { out[0] = a[0] + b[0]; }
`,
    workgroups: [1, 1, 1],
    bindings: [
      { name: "a", dtype: "f32", access: "read" },
      { name: "b", dtype: "f32", access: "read" },
      { name: "out", dtype: "f32", access: "read_write" },
    ],
  };
  const dispatch = (buffers: number[]): Dispatch => ({ kernel: 0, buffers, workgroups: [1, 1, 1], node: 0 });

  test("become writable in a variant of the kernel; others and other arenas stay as they were", () => {
    const homes = new Map([
      [0, { arena: 9, offset: 0 }],
      [2, { arena: 9, offset: 256 }],
      [3, { arena: 8, offset: 0 }],
    ]);
    // a (0) shares out's arena; b (1) has its own buffer; b (3) is in another arena
    const r = writableArenas([kernel], [dispatch([0, 1, 2]), dispatch([0, 3, 2]), dispatch([1, 1, 3])], homes);
    expect(r.dispatches.map((d) => d.kernel)).toEqual([1, 1, 0]);
    expect(r.kernels[1].bindings.map((b) => b.access)).toEqual(["read_write", "read", "read_write"]);
    expect(r.kernels[1].code).toContain("@binding(0) var<storage, read_write> a");
    expect(r.kernels[1].code).toContain("@binding(1) var<storage, read> b");
    expect(r.kernels[0]).toEqual(kernel);
  });

  test("nothing changes without arenas", () => {
    const r = writableArenas([kernel], [dispatch([0, 1, 2])], NO_HOMES);
    expect(r).toEqual({ kernels: [kernel], dispatches: [dispatch([0, 1, 2])] });
  });
});

describe("on the GPU, arenas change no result", () => {
  test("random graphs with arenas alone: the same bits, the same dispatches", async () => {
    await randomGraphsMerged("arenas", { sequence: false, parallel: false });
  });

  test("char_lm training steps with sequence and parallel kernels over arenas", async () => {
    const c = charLmTrainCase();
    const gpu = await testGpu();
    const opts = { parallel: true, sequence: true, updates: c.updates };
    const { merged, plain } = await compareOption("arenas", c.graph, gpu.limits, c.feeds, opts, 3);
    // one binding per arena: far longer runs than with a binding per buffer
    expect(merged.dispatches.length * 2).toBeLessThanOrEqual(plain.dispatches.length);
    expect(merged.buffers.some((b) => b.role === "arena")).toBe(true);
  }, 400_000);

  test("char_lm decoding step with sequence kernels over arenas", async () => {
    const c = charLmDecodeCase();
    const gpu = await testGpu();
    await compareOption("arenas", c.graph, gpu.limits, () => c.feeds, { sequence: true, parallel: false });
  }, 300_000);

  test("a compiled program's arenas and members", () => {
    const c = charLmTrainCase();
    const p = compileGraph(c.graph, DEFAULT_LIMITS, { updates: c.updates, arenas: true });
    const arenas = p.buffers.filter((b) => b.role === "arena");
    expect(arenas.length).toBeGreaterThan(0);
    for (const u of p.updates) expect([p.buffers[u.from].home, p.buffers[u.to].home]).toEqual([undefined, undefined]);
  });
});
