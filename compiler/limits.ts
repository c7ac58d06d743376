// limits.ts: the device facts the compiler plans around, as plain data (the compiler never sees a
// GPUDevice). The runtime fills them from the adapter; tests lower them to exercise the limit paths.
import { InputError, MiraError } from "../base/errors.js";

export interface DeviceLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly shaderF16: boolean;
  /** "cpu" for software adapters (llvmpipe, SwiftShader), where barriers are costly. */
  readonly adapterKind: "cpu" | "gpu";
}

/** WebGPU's guaranteed minimums: code compiled for these runs on any adapter. */
export const DEFAULT_LIMITS: DeviceLimits = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 256 * 1024 * 1024,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
  shaderF16: false,
  adapterKind: "gpu",
};

/** A program that cannot fit the device, found at compile time; the message names the fix. Kind "setup":
 *  the same command runs on a device with larger limits (or shader-f16), so it is this machine that falls
 *  short, not the command — which is what exit 3 tells a script, where 2 would say "wrong everywhere". */
export class LimitError extends MiraError {
  readonly kind = "setup";
  override name = "LimitError";
}

export const formatBytes = (n: number): string =>
  n >= 2 ** 30
    ? `${(n / 2 ** 30).toFixed(1)} GiB`
    : n >= 2 ** 20
      ? `${(n / 2 ** 20).toFixed(1)} MiB`
      : n >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${n} B`;

/** Limits of a device other than this one, by name, for `mira compile --limits NAME`: compile for the
 *  machine a model is meant for, on a machine that cannot run it. */
export const LIMIT_PROFILES: Readonly<Record<string, DeviceLimits>> = {
  // The WebGPU spec's limits table, its "default" column (W3C WebGPU, §3.6.2 "Limits",
  // https://www.w3.org/TR/webgpu/#limits; the 128 MiB binding default went in with gpuweb/gpuweb#1163):
  // what every adapter guarantees.
  "webgpu-default": DEFAULT_LIMITS,
  // A discrete NVIDIA GPU through Dawn's Vulkan backend. Dawn passes on the driver's Vulkan limits,
  // clamped to its own maxima. Sources: NVIDIA drivers report maxStorageBufferRange = 2^32 − 1
  // (gfx-rs/wgpu#8105, an H100), and WebGPU bindings stay below 2 GiB (gpuweb/gpuweb#6338: "constrained
  // to 2GB"), so 2 GiB − 4 (a multiple of 4); maxBufferSize from maxMemoryAllocationSize, about 4 GiB
  // on NVIDIA (gpuweb/gpuweb#1371, #3700). Assumptions, not read off a device: the 32 KiB of workgroup
  // storage (Dawn's cap, below the 48 KiB NVIDIA offers), 10 storage buffers per stage (Dawn's tier
  // above the default 8), 1024 invocations per workgroup (the Vulkan value on NVIDIA) and shader-f16.
  "nvidia-vulkan": {
    maxStorageBufferBindingSize: 2 ** 31 - 4,
    maxBufferSize: 2 ** 32,
    maxStorageBuffersPerShaderStage: 10,
    maxComputeWorkgroupsPerDimension: 65535,
    maxComputeInvocationsPerWorkgroup: 1024,
    maxComputeWorkgroupStorageSize: 32768,
    shaderF16: true,
    adapterKind: "gpu",
  },
};

/** Limits from JSON text (a limits FILE): any subset of DeviceLimits' keys over WebGPU's defaults. An
 *  unknown key or a value of the wrong type is one line naming it, so a typo does not pass silently. */
export function parseLimits(text: string, source: string): DeviceLimits {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    throw new InputError(
      `${source}: not JSON (${why}); a limits file is an object such as {"maxBufferSize": 4294967296}`,
    );
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InputError(`${source}: a limits file is a JSON object of limits, such as {"maxBufferSize": 4294967296}`);
  }
  const keys = Object.keys(DEFAULT_LIMITS);
  const out: Record<string, unknown> = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(raw)) {
    if (!keys.includes(k)) throw new InputError(`${source}: unknown limit '${k}'; known limits: ${keys.join(", ")}`);
    const want = typeof DEFAULT_LIMITS[k as keyof DeviceLimits];
    const ok =
      k === "adapterKind"
        ? v === "cpu" || v === "gpu"
        : want === "number"
          ? typeof v === "number" && Number.isInteger(v) && v > 0
          : typeof v === want;
    const must = k === "adapterKind" ? `"cpu" or "gpu"` : want === "number" ? "a positive integer" : "true or false";
    if (!ok) throw new InputError(`${source}: limit '${k}' must be ${must}, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out as unknown as DeviceLimits;
}
