// windows.ts: dispatches whose buffers are larger than one binding may be. Such a buffer is bound as
// windows (wgsl/windows.ts rewrites the kernel to pick one by index), each a byte range of the buffer; a
// kernel that would then need more bindings than the device has is a LimitError naming the tensor.
import { LimitError, type DeviceLimits, formatBytes } from "./limits.js";
import type { BufferRange, Dispatch, ProgramBuffer } from "./program.js";
import type { KernelSource } from "./wgsl/common.js";
import { windowBytes, windowCount, windowKernel } from "./wgsl/windows.js";

export function windowDispatches(
  kernels: readonly KernelSource[],
  dispatches: readonly Dispatch[],
  buffers: readonly ProgramBuffer[],
  limits: DeviceLimits,
): { kernels: KernelSource[]; dispatches: Dispatch[] } {
  const max = limits.maxStorageBufferBindingSize;
  const bytes = windowBytes(max);
  const out = [...kernels];
  const variants = new Map<string, number>();
  const windowed = dispatches.map((d) => {
    const counts = d.buffers.map((b) => windowCount(buffers[b].bytes, max));
    if (counts.every((c) => c === 1)) return d;
    const kernel = kernels[d.kernel];
    const total = counts.reduce((a, c) => a + c, 0);
    if (total > limits.maxStorageBuffersPerShaderStage) {
      const big = d.buffers.map((b, k) => [buffers[b], counts[k]] as const).filter(([, c]) => c > 1);
      const what = big.map(([b, c]) => `${describe(b)} (${formatBytes(b.bytes)}, ${c} windows)`).join(", ");
      throw new LimitError(
        `kernel ${kernel.name} binds ${what}: with windows of ${formatBytes(bytes)} it needs ${total} storage ` +
          `buffers, but this device allows ${limits.maxStorageBuffersPerShaderStage} per kernel; lower the batch ` +
          "size or the model width (--set), or compile for a device with larger bindings (--limits)",
      );
    }
    const key = `${d.kernel}:${counts.join(",")}`;
    let index = variants.get(key);
    if (index === undefined) {
      index = out.push(windowKernel(kernel, counts, bytes)) - 1;
      variants.set(key, index);
    }
    const physical: number[] = [];
    const ranges: (BufferRange | undefined)[] = [];
    d.buffers.forEach((b, k) => {
      const size = buffers[b].bytes;
      for (let w = 0; w < counts[k]; w++) {
        physical.push(b);
        ranges.push(counts[k] === 1 ? undefined : { offset: w * bytes, size: Math.min(bytes, size - w * bytes) });
      }
    });
    return { ...d, kernel: index, buffers: physical, ranges };
  });
  // the kernels only windowed dispatches used are dropped
  return dropUnusedKernels(out, windowed);
}

/** The kernels some dispatch uses, renumbered in the dispatches (a pass that swaps in variants leaves the
 *  originals some no longer use). */
export function dropUnusedKernels(
  kernels: readonly KernelSource[],
  dispatches: readonly Dispatch[],
): { kernels: KernelSource[]; dispatches: Dispatch[] } {
  const used = [...new Set(dispatches.map((d) => d.kernel))].sort((a, b) => a - b);
  const renumber = new Map(used.map((k, i) => [k, i]));
  return {
    kernels: used.map((k) => kernels[k]),
    dispatches: dispatches.map((d) => ({ ...d, kernel: renumber.get(d.kernel)! })),
  };
}

const describe = (b: ProgramBuffer): string => `${b.name ? `'${b.name}' ` : ""}${b.dtype}[${b.shape.join(", ")}]`;
