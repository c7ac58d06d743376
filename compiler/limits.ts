// limits.ts: the device facts the compiler plans around, as plain data (the compiler never sees a
// GPUDevice). The runtime fills them from the adapter; tests lower them to exercise the limit paths.
import { MiraError } from "../base/errors.js";

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
  n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
