// gpu.ts (bench/peers): what the peers share of this process's Dawn — the GPU instance handed to them
// as navigator.gpu, and a count of compute dispatches recorded by anyone on it.

/** Makes `gpu` the `navigator.gpu` that browser-minded libraries look for (Node 20 has no navigator).
 *  The same Dawn instance as runtime/device.ts: one instance, one llvmpipe adapter, a device each. */
export function provideNavigator(gpu: GPU): void {
  const g = globalThis as { navigator?: { gpu?: GPU; userAgent?: string } };
  if (g.navigator?.gpu === gpu) return;
  Object.defineProperty(globalThis, "navigator", {
    value: { ...(g.navigator ?? {}), gpu, userAgent: g.navigator?.userAgent ?? "node" },
    configurable: true,
    writable: true,
  });
}

type Dispatcher = {
  prototype: { dispatchWorkgroups(...args: unknown[]): void; dispatchWorkgroupsIndirect(...args: unknown[]): void };
};

let dispatches = 0;
let installed = false;

/** Counts every dispatchWorkgroups(Indirect) on any compute pass of this process from now on
 *  (`webgpu`'s globals, installed by getGpu, define GPUComputePassEncoder). */
export function countDispatches(): void {
  if (installed) return;
  const cls = (globalThis as { GPUComputePassEncoder?: Dispatcher }).GPUComputePassEncoder;
  if (!cls) throw new Error("bench/peers: GPUComputePassEncoder is not defined; call getGpu() first");
  const proto = cls.prototype;
  for (const key of ["dispatchWorkgroups", "dispatchWorkgroupsIndirect"] as const) {
    const original = proto[key];
    proto[key] = function (this: unknown, ...args: unknown[]): void {
      dispatches++;
      original.apply(this, args);
    };
  }
  installed = true;
}

/** Dispatches recorded while `fn` ran. */
export async function dispatchesOf(fn: () => Promise<unknown>): Promise<number> {
  const before = dispatches;
  await fn();
  return dispatches - before;
}
