// device.ts: the one Dawn adapter and device of this process, with the adapter's real limits and
// features. No adapter is a clear error naming the fix, never a stack trace. Knows nothing of .mira.
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceLimits } from "../compiler/limits.js";
import { errorOf } from "../base/errors.js";

/** No usable WebGPU adapter on this machine. */
export class NoAdapterError extends errorOf("NoAdapterError", "setup") {}

/** The device stopped working (a driver reset, a GPU removed, or `device.destroy()`): the work in
 *  flight is gone, and the caller says what was kept. This machine lacked a working GPU (exit 3). */
export class DeviceLostError extends errorOf("DeviceLostError", "setup") {}

/** The device could not allocate the buffers a program needs (exit 3: this machine lacks the memory). */
export class OutOfMemoryError extends errorOf("OutOfMemoryError", "setup") {}

export const NO_ADAPTER_FIX =
  "no WebGPU adapter; run 'npm run setup' or install a Vulkan driver ('mira doctor' shows more)";

export interface AdapterFacts {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallback: boolean;
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
}

export interface Gpu {
  /** The Dawn instance. It must stay reachable: once it is garbage-collected, Dawn's event
   *  processing is torn down and the next awaited GPU operation crashes the process. */
  readonly instance: GPU;
  readonly device: GPUDevice;
  readonly adapter: AdapterFacts;
  readonly limits: DeviceLimits; // what the compiler plans around
  readonly hasTimestamps: boolean;
  /** Why the device was lost, once it has been; undefined while it works. */
  readonly lost: () => GPUDeviceLostInfo | undefined;
}

/** Why `gpu`'s device was lost, waiting briefly for Dawn to report it (a failed read can arrive first);
 *  undefined when it was not lost. */
export async function lostInfo(gpu: Gpu, waitMs = 500): Promise<GPUDeviceLostInfo | undefined> {
  if (gpu.lost()) return gpu.lost();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
  const info = await Promise.race([gpu.device.lost, late]);
  clearTimeout(timer);
  return info;
}

/** Mesa warns on stderr when XDG_RUNTIME_DIR is unset; give it a private directory first. */
export function ensureRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  const dir = join(tmpdir(), `mira-runtime-${process.getuid?.() ?? "user"}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software/i;

/** Dawn's notes that it capped a limit mira never uses; it writes them natively, on every device. */
const DAWN_LIMIT_NOTE =
  /^Warning: max\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** Runs `work` with file descriptor 2 pointed at a temporary file, then writes what landed there back to
 *  stderr without Dawn's limit notes, so a library user's stderr stays clean too (the CLI's launcher
 *  filters its child's stderr as well). Dawn writes from native code, beyond process.stderr, and Node
 *  has no dup2: fd 2 is closed and the lowest free descriptor, 2, reopened, first on the file and then
 *  on /proc/self/fd of a saved copy. That works for a terminal, a pipe or a file; where it cannot (not
 *  Linux; a socket, as a Node parent's 'pipe' is, which cannot be reopened; stderr sharing a regular
 *  file with stdout, whose offsets would then part), the notes pass through. */
async function withoutDawnNotes<T>(work: () => Promise<T>): Promise<T> {
  const swap = swapStderr();
  if (!swap) return work();
  try {
    return await work();
  } finally {
    swap();
  }
}

function swapStderr(): (() => void) | undefined {
  if (process.platform !== "linux") return undefined;
  void process.stderr; // Node opens its stderr stream on first use: let it see the real one
  let saved: number;
  try {
    const err = fstatSync(2);
    const out = fstatSync(1);
    if (err.isFile() && out.isFile() && err.ino === out.ino && err.dev === out.dev) return undefined;
    saved = openSync("/proc/self/fd/2", "a");
  } catch {
    return undefined;
  }
  const path = join(tmpdir(), `mira-stderr-${process.pid}-${Date.now()}.txt`);
  const reopen = (target: string, flags: string): boolean => {
    closeSync(2);
    const fd = openSync(target, flags);
    if (fd === 2) return true;
    closeSync(fd);
    return false;
  };
  try {
    if (!reopen(path, "w")) throw new Error("fd 2 was taken");
  } catch {
    reopen(`/proc/self/fd/${saved}`, "a");
    closeSync(saved);
    return undefined;
  }
  return () => {
    reopen(`/proc/self/fd/${saved}`, "a");
    closeSync(saved);
    const kept = readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => !DAWN_LIMIT_NOTE.test(l))
      .join("\n");
    rmSync(path, { force: true });
    if (kept) writeSync(2, kept);
  };
}

function limitsOf(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  const proto = Object.getPrototypeOf(adapter.limits) as object;
  for (const key of Object.getOwnPropertyNames(proto)) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") out[key] = v;
  }
  return out;
}

let pending: Promise<Gpu> | undefined;

/** The process-wide device; the first call creates it. Rejects with NoAdapterError when none exists. */
export function getGpu(): Promise<Gpu> {
  pending ??= createGpu();
  return pending;
}

/** The Dawn instance, its high-performance adapter and a device with the adapter's limits. */
async function openDevice(create: typeof import("webgpu").create) {
  const gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new NoAdapterError(NO_ADAPTER_FIX);
  const limits = limitsOf(adapter);
  const wanted: GPUFeatureName[] = ["shader-f16", "timestamp-query"];
  const features = wanted.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const key of [
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxStorageBuffersPerShaderStage",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxComputeWorkgroupSizeY",
    "maxComputeWorkgroupsPerDimension",
    "maxBindGroups",
  ]) {
    if (limits[key] !== undefined) requiredLimits[key] = limits[key];
  }
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  return { gpu, adapter, device, features, limits };
}

async function createGpu(): Promise<Gpu> {
  ensureRuntimeDir();
  const { create, globals } = await import("webgpu");
  Object.assign(globalThis, globals);
  const { gpu, adapter, device, features, limits } = await withoutDawnNotes(() => openDevice(create));
  let lost: GPUDeviceLostInfo | undefined;
  void device.lost.then((info) => {
    lost = info;
    pending = undefined; // the next getGpu() makes a new device, so work can continue in this process
  });
  const info = adapter.info;
  const facts: AdapterFacts = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallback: info.isFallbackAdapter ?? false,
    features: [...adapter.features].sort(),
    limits,
  };
  const software = SOFTWARE.test(`${info.description} ${info.device} ${info.architecture}`) || facts.isFallback;
  return {
    instance: gpu,
    device,
    adapter: facts,
    hasTimestamps: features.includes("timestamp-query"),
    lost: () => lost,
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      shaderF16: features.includes("shader-f16"),
      adapterKind: software ? "cpu" : "gpu",
    },
  };
}

/** A short human name for the adapter: "llvmpipe (Mesa 25.0.7, Vulkan)". */
export function adapterName(a: AdapterFacts): string {
  return a.description || a.device || a.vendor || "unknown adapter";
}
