// device.ts: the one Dawn adapter and device of this process, with the adapter's real limits and
// features. No adapter is a clear error naming the fix, never a stack trace. Knows nothing of .mira.
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceLimits } from "../compiler/limits.js";
import { MiraError } from "../base/errors.js";

/** No usable WebGPU adapter on this machine. */
export class NoAdapterError extends MiraError {
  readonly kind = "setup";
  override name = "NoAdapterError";
}

/** The device stopped working (a driver reset, a GPU removed, or `device.destroy()`): the work in
 *  flight is gone, and the caller says what was kept. This machine lacked a working GPU (exit 3). */
export class DeviceLostError extends MiraError {
  readonly kind = "setup";
  override name = "DeviceLostError";
}

/** The device could not allocate the buffers a program needs (exit 3: this machine lacks the memory). */
export class OutOfMemoryError extends MiraError {
  readonly kind = "setup";
  override name = "OutOfMemoryError";
}

export const NO_ADAPTER_FIX = "no WebGPU adapter; run 'npm run setup' or install a Vulkan driver ('mira doctor' shows more)";

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

async function createGpu(): Promise<Gpu> {
  ensureRuntimeDir();
  const { create, globals } = await import("webgpu");
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new NoAdapterError(NO_ADAPTER_FIX);
  const limits = limitsOf(adapter);
  const wanted: GPUFeatureName[] = ["shader-f16", "timestamp-query"];
  const features = wanted.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const key of ["maxStorageBufferBindingSize", "maxBufferSize", "maxStorageBuffersPerShaderStage", "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupSizeX", "maxComputeWorkgroupSizeY", "maxComputeWorkgroupsPerDimension", "maxBindGroups"]) {
    if (limits[key] !== undefined) requiredLimits[key] = limits[key];
  }
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  let lost: GPUDeviceLostInfo | undefined;
  void device.lost.then((info) => {
    lost = info;
    pending = undefined; // the next getGpu() makes a new device, so work can continue in this process
  });
  const info = adapter.info;
  const facts: AdapterFacts = {
    vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
    isFallback: info.isFallbackAdapter ?? false, features: [...adapter.features].sort(), limits,
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
